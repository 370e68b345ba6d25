// Reading a whole file that may or may not be gzip-compressed (zlib's gzread passes plain files through).

import Records
import CZlib
import Foundation

public struct DataError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

enum GzipFile {
    /// The decompressed bytes of `path` (or its raw bytes when it is not gzipped). Reading stops with an error once
    /// the bytes exceed half the memory limit (they are copied once as they are parsed): a file that decompresses
    /// to more than memory holds is refused instead of exhausting it.
    static func read(_ path: String, limit: Int = MemoryEstimate.limitBytes / 2) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError("\(path): no such file") }
        guard let file = gzopen(path, "rb") else { throw DataError("\(path): cannot open") }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 20)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 22)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 || gzHasError(file) {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
                throw DataError("\(path): corrupt or truncated gzip data (\(message))")
            }
            if n == 0 { break }
            guard bytes.count + Int(n) <= limit else {
                throw DataError("\(path): decompresses to more than \(limit >> 20) MiB, half of \(MemoryEstimate.limitDescription)")
            }
            bytes.append(contentsOf: chunk[0..<Int(n)])
        }
        return bytes
    }

    private static func gzHasError(_ file: gzFile) -> Bool {
        var code: Int32 = 0
        _ = gzerror(file, &code)
        return code != Z_OK
    }
}

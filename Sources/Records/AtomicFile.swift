// Files that are either completely old or completely new: write a temporary file beside the target,
// fsync it, rename it over the target, fsync the directory. A crash or a signal never leaves a half file.

import Foundation

/// A file that could not be written, read or moved into place.
public struct FileError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let directory = splitPath(path).directory
        let temporary = path + ".tmp-\(getpid())"
        Cleanup.shared.register(file: temporary)
        defer { Cleanup.shared.unregister(file: temporary) }
        try writeDurably(data, to: temporary, naming: path)
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError("\(path): cannot rename into place (\(why))")
        }
        syncDirectory(directory)
    }

    /// Writes `data` to `temporary` (created or truncated) and fsyncs it; on failure removes it and throws,
    /// naming the file the user knows (`name`, the final path, when given).
    public static func writeDurably(_ data: Data, to temporary: String, naming name: String? = nil) throws {
        let path = name ?? temporary
        let fd = open(temporary, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else { throw FileError("\(temporary): cannot create (\(String(cString: strerror(errno))))") }
        var ok = true
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { ok = false; return }
                offset += n
            }
        }
        let reason = String(cString: strerror(errno))
        if !ok || fsync(fd) != 0 {
            close(fd)
            unlink(temporary)
            throw FileError("\(path): write failed (\(reason))")
        }
        close(fd)
    }

    /// fsync a directory after a rename into it, so the new name survives a crash.
    public static func syncDirectory(_ directory: String) {
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}

/// A path split at its last "/": the directory ("" when there is none) and the name. Written out because
/// Foundation's NSString path helpers crash on one-character paths on Linux (swift-corelibs-foundation).
public func splitPath(_ path: String) -> (directory: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return ("", path) }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
}

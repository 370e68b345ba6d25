// The checkpoint file: a versioned, checksummed container of named Float32 buffers and a JSON header
// that records everything else (clocks, stream states, settings). Layout, little-endian:
//   "EASGDCKP" · UInt32 format version · UInt32 header length H · H bytes of JSON
//   · the buffers' Float32 values in header order · UInt32 CRC-32 of everything before · "EASGDEND"

import Records
import CZlib
import Foundation

#if _endian(big)
#error("checkpoints store Float32 in host order, which must be little-endian")
#endif

public struct CheckpointBufferEntry: Codable, Equatable, Sendable {
    public var name: String
    public var count: Int
}

struct CheckpointEnvelope<State: Codable>: Codable {
    var state: State
    var buffers: [CheckpointBufferEntry]
}

public enum Checkpoint {
    public static let formatVersion: UInt32 = 1
    static let magic = Array("EASGDCKP".utf8)
    static let trailer = Array("EASGDEND".utf8)

    /// Writes `state` and `buffers` to `path` atomically.
    public static func write<State: Codable>(_ state: State, buffers: [(name: String, buffer: FlatBuffer<Float>)],
                                             to path: String) throws {
        let envelope = CheckpointEnvelope(state: state, buffers: buffers.map { .init(name: $0.name, count: $0.buffer.count) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = try encoder.encode(envelope)
        var data = Data()
        data.reserveCapacity(32 + header.count + 4 * buffers.reduce(0) { $0 + $1.buffer.count })
        data.append(contentsOf: magic)
        append(formatVersion, to: &data)
        append(UInt32(header.count), to: &data)
        data.append(header)
        for (_, buffer) in buffers { data.append(UnsafeBufferPointer(buffer.pointer)) }   // host order is little-endian
        let crc = data.withUnsafeBytes { raw in
            UInt32(crc32(0, raw.bindMemory(to: UInt8.self).baseAddress, UInt32(raw.count)))
        }
        append(crc, to: &data)
        data.append(contentsOf: trailer)
        try AtomicFile.write(data, to: path)
    }

    /// Reads a checkpoint, verifying magic, version, checksum and sizes. Returns the state and the buffers by name.
    public static func read<State: Codable>(_ path: String, as: State.Type) throws -> (state: State, buffers: [String: [Float]]) {
        // The file's size is known before it is read: one larger than memory allows is refused unread.
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw DataError("\(path): no checkpoint (cannot read the file)")
        }
        try MemoryEstimate.check(MemoryEstimate.reading(fileBytes: size), for: "reading the checkpoint \(path) (\(size >> 20) MiB)")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError("\(path): no checkpoint (cannot read the file)")
        }
        let bytes = [UInt8](data)
        let minimum = magic.count + 8 + 4 + trailer.count
        guard bytes.count >= minimum, Array(bytes[0..<8]) == magic else {
            throw DataError("\(path): not an easgd checkpoint (bad magic)")
        }
        let version = readUInt32(bytes, at: 8)
        guard version == formatVersion else {
            throw DataError("\(path): checkpoint format version \(version), this easgd reads version \(formatVersion)")
        }
        guard Array(bytes[(bytes.count - trailer.count)...]) == trailer else {
            throw DataError("\(path): truncated checkpoint (no end marker)")
        }
        let body = bytes.count - trailer.count - 4
        let stored = readUInt32(bytes, at: body)
        let computed = bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32(body))) }
        guard stored == computed else { throw DataError("\(path): checksum mismatch (the checkpoint is damaged)") }
        let headerLength = Int(readUInt32(bytes, at: 12))
        guard 16 + headerLength <= body else { throw DataError("\(path): header runs past the end of the file") }
        let envelope: CheckpointEnvelope<State>
        do {
            envelope = try JSONDecoder().decode(CheckpointEnvelope<State>.self, from: Data(bytes[16..<(16 + headerLength)]))
        } catch {
            // The commonest cause: a checkpoint of the other kind of run (sequential against parallel), named so.
            let header = Data(bytes[16..<(16 + headerLength)])
            let names = ((try? JSONSerialization.jsonObject(with: header) as? [String: Any])?["buffers"] as? [[String: Any]])?
                .compactMap { $0["name"] as? String } ?? []
            let kind = names.isEmpty ? nil : names.contains("center") ? "a parallel run's" : "a sequential run's"
            throw DataError("\(path): " + (kind.map { "holds \($0) checkpoint, not the kind this needs" } ?? "unreadable checkpoint header")
                            + " (\(DecodingProblem.describe(error)))")
        }
        var offset = 16 + headerLength
        let total = envelope.buffers.reduce(0) { $0 + $1.count }
        guard offset + 4 * total == body else {
            throw DataError("\(path): buffer sizes in the header do not match the file size")
        }
        var buffers: [String: [Float]] = [:]
        for entry in envelope.buffers {
            var values = [Float](repeating: 0, count: entry.count)
            values.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + 4 * entry.count)]))
                }
            }
            offset += 4 * entry.count
            buffers[entry.name] = values
        }
        return (envelope.state, buffers)
    }

    private static func append(_ v: UInt32, to data: inout Data) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }

    private static func readUInt32(_ b: [UInt8], at o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }
}

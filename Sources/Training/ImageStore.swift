// An image store: images decoded once (by `easgd data import`), kept as uint8 CHW bytes in shards that training
// maps read-only. A directory:
//
//   manifest.json          written last: the format, the classes, per split its shards (images, bytes, CRC-32),
//                          the training images' per-channel mean, the problems met; a store without it is unfinished
//   classes.txt            the class names (ImageNet's WordNet ids), one per line; label = line number − 1
//   short-side             the smaller side the import was started with (a resumed import must give the same)
//   problems.tsv           every file reported (dropped, converted, warned about): split, file, what, message
//   train/shard-NNNNN.pixels, .index, .problems    and the same under val/
//
// A shard covers a fixed run of the sorted source files (so an interrupted import resumes shard by shard): its
// .pixels holds the images back to back, each in CHW order at its own size; its .index (written after the pixels,
// both fsynced and renamed into place) says where each image starts, its height, width and label, and the shard's
// totals; its .problems lists the files it reported (tab-separated: file, what happened, libjpeg's message).

import CZlib
import Foundation
import Records

public enum ImageStore {
    public static let formatName = "easgd image store"
    public static let formatVersion = 1
    public static let manifestName = "manifest.json"

    public struct Manifest: Codable, Sendable {
        public var format: String
        public var version: Int
        public var source: String
        public var created: String
        /// The smaller side every image was resized to, and how.
        public var shortSide: Int
        public var resize: String
        public var classes: [String]
        /// The training images' per-channel mean, in [0, 1], over all their pixels.
        public var channelMean: [Double]
        public var splits: [Split]
        public var problems: Problems

        public struct Split: Codable, Sendable {
            public var name: String
            public var images: Int
            /// Files found in the source for this split (images + dropped).
            public var sourceFiles: Int
            public var bytes: Int
            public var shards: [Shard]
        }

        public struct Shard: Codable, Sendable {
            public var file: String
            public var images: Int
            public var bytes: Int
            /// CRC-32 (zlib's) of the .pixels file, as 8 hexadecimal digits.
            public var crc32: String
        }

        public struct Problems: Codable, Sendable {
            /// Files not in the store: not decodable, truncated, GIF data.
            public var dropped: Int
            /// Stored, converted to RGB: greyscale and CMYK JPEGs.
            public var greyscale: Int
            public var cmyk: Int
            /// Stored, decoded as PNG (PNG data under a JPEG name).
            public var png: Int
            /// Stored, but libjpeg warned (the messages are in the file).
            public var warnings: Int
            /// Every reported file, tab-separated: split, file, what happened, message.
            public var file: String
        }

        public func split(_ name: String) -> Split? { splits.first { $0.name == name } }
    }

    /// Whether `directory` holds an image store (finished or not).
    public static func isStore(_ directory: String) -> Bool {
        FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(manifestName))
    }

    public static func readManifest(_ directory: String) throws -> Manifest {
        let path = (directory as NSString).appendingPathComponent(manifestName)
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read") }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw DataError("\(path): not an image store's manifest (\(DecodingProblem.describe(error)))")
        }
        guard manifest.format == formatName else { throw DataError("\(path): format \"\(manifest.format)\", expected \"\(formatName)\"") }
        guard manifest.version == formatVersion else {
            throw DataError("\(path): store version \(manifest.version); this easgd reads version \(formatVersion) (import again)")
        }
        return manifest
    }

    // MARK: Shard index

    /// A shard's .index: a header, then one 16-byte entry per image, little-endian.
    struct ShardIndex: Equatable {
        static let magic: [UInt8] = Array("EASGDSH1".utf8)
        static let headerBytes = 8 + 4 * 4 + 8 * 6
        /// The run of sorted source files the shard covers, and an FNV-1a hash of their paths (a resumed import
        /// checks that the source still lists the same files).
        var firstSource: UInt32
        var sourceCount: UInt32
        var sourceHash: UInt64
        var crc32: UInt32
        var pixelBytes: UInt64
        /// Per channel, the sum of the pixel values and the count of pixels (for the store's mean).
        var channelSums: [UInt64]
        var pixelsPerChannel: UInt64
        var entries: [Entry]
        /// The shard's .problems text when just decoded (not part of the .index file).
        var problems: String? = nil

        struct Entry: Equatable {
            var offset: UInt64
            var height: UInt16
            var width: UInt16
            var label: UInt16
        }

        func encoded() -> Data {
            var d = Data(ShardIndex.magic)
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            put(UInt32(entries.count)); put(firstSource); put(sourceCount); put(crc32)
            put(sourceHash); put(pixelBytes)
            for c in 0..<3 { put(c < channelSums.count ? channelSums[c] : 0) }
            put(pixelsPerChannel)
            for e in entries { put(e.offset); put(e.height); put(e.width); put(e.label); put(UInt16(0)) }
            return d
        }

        static func decode(_ bytes: [UInt8], path: String) throws -> ShardIndex {
            guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magic else {
                throw DataError("\(path): not a shard index of an image store")
            }
            var o = 8
            func get<T: FixedWidthInteger>(_: T.Type) -> T {
                var v = T.zero
                withUnsafeMutableBytes(of: &v) { raw in
                    for k in 0..<MemoryLayout<T>.size { raw[k] = bytes[o + k] }
                }
                o += MemoryLayout<T>.size
                return T(littleEndian: v)
            }
            let count = Int(get(UInt32.self))
            let first = get(UInt32.self), sources = get(UInt32.self), crc = get(UInt32.self)
            let hash = get(UInt64.self), total = get(UInt64.self)
            let sums = [get(UInt64.self), get(UInt64.self), get(UInt64.self)]
            let perChannel = get(UInt64.self)
            guard bytes.count == headerBytes + 16 * count else {
                throw DataError("\(path): \(bytes.count) bytes for \(count) images (truncated or not a shard index)")
            }
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let e = Entry(offset: get(UInt64.self), height: get(UInt16.self), width: get(UInt16.self), label: get(UInt16.self))
                _ = get(UInt16.self)
                entries.append(e)
            }
            return ShardIndex(firstSource: first, sourceCount: sources, sourceHash: hash, crc32: crc, pixelBytes: total,
                              channelSums: sums, pixelsPerChannel: perChannel, entries: entries)
        }

        static func read(_ path: String) throws -> ShardIndex {
            guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read") }
            return try decode([UInt8](data), path: path)
        }
    }

    static func shardName(_ k: Int) -> String { String(format: "shard-%05d", k) }

    // MARK: Reading

    /// The store's training images (train) and test images (val), mapped read-only. Sizes and counts are checked
    /// against the manifest; the checksums only by `verify` (reading every byte of ImageNet takes minutes).
    public static func load(_ directory: String) throws -> DataSplit {
        let manifest = try readManifest(directory)
        guard let train = manifest.split("train"), let val = manifest.split("val") else {
            throw DataError("\(directory): the store has no train or no val split")
        }
        let mean = manifest.channelMean.map { Float($0) }
        let classes = manifest.classes.count
        return DataSplit(train: try load(directory, train, classes: classes, mean: mean, name: "\(lastComponent(directory))/train"),
                         test: try load(directory, val, classes: classes, mean: mean, name: "\(lastComponent(directory))/val"),
                         source: directory, format: "easgd image store (smaller side \(manifest.shortSide))")
    }

    static func lastComponent(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }

    static func load(_ directory: String, _ split: Manifest.Split, classes: Int, mean: [Float], name: String) throws -> Dataset {
        var maps: [(UnsafeMutableRawPointer, Int)] = []
        var images: [StoredImage] = []
        var labels: [Int32] = []
        images.reserveCapacity(max(0, min(split.images, 1 << 26)))
        labels.reserveCapacity(max(0, min(split.images, 1 << 26)))
        var small = (Int.max, Int.max), large = (0, 0)
        let release = { for (p, n) in maps { munmap(p, n) } }
        do {
            for shard in split.shards {
                let base = (directory as NSString).appendingPathComponent(shard.file)
                let index = try ShardIndex.read(base + ".index")
                guard index.entries.count == shard.images, Int(exactly: index.pixelBytes) == shard.bytes else {
                    throw DataError("\(base).index: \(index.entries.count) images of \(index.pixelBytes) bytes, the manifest says \(shard.images) of \(shard.bytes)")
                }
                let mapped = try map(base + ".pixels", bytes: shard.bytes)
                if let mapped { maps.append((mapped, shard.bytes)) }
                let start = UnsafePointer<UInt8>(OpaquePointer(mapped ?? UnsafeMutableRawPointer(bitPattern: 1)!))
                for e in index.entries {
                    let h = Int(e.height), w = Int(e.width)
                    let (end, overflow) = e.offset.addingReportingOverflow(UInt64(3 * h * w))
                    guard !overflow, end <= index.pixelBytes, h > 0, w > 0 else {
                        throw DataError("\(base).index: an image reaches past the end of its pixels")
                    }
                    guard Int(e.label) < classes else {
                        throw DataError("\(base).index: label \(e.label) outside the \(classes) classes")
                    }
                    images.append(StoredImage(start: start + Int(e.offset), height: Int32(h), width: Int32(w)))
                    labels.append(Int32(e.label))
                    small = (min(small.0, h), min(small.1, w))
                    large = (max(large.0, h), max(large.1, w))
                }
            }
        } catch {
            release()
            throw error
        }
        guard !images.isEmpty else { release(); throw DataError("\(directory): the \(split.name) split holds no images") }
        let storage = PixelStorage(base: images[0].start, release: release)
        return Dataset(name: name, shape: Shape(channels: 3, height: small.0, width: small.1),
                       largest: Shape(channels: 3, height: large.0, width: large.1), labels: labels, classes: classes,
                       channelMean: mean, images: images, storage: storage)
    }

    /// Maps `path` read-only after checking it holds `bytes` bytes (nil for an empty file).
    static func map(_ path: String, bytes: Int) throws -> UnsafeMutableRawPointer? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DataError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) == bytes else {
            throw DataError("\(path): \(info.st_size) bytes, the store's index says \(bytes) (truncated or replaced)")
        }
        guard bytes > 0 else { return nil }
        guard let p = mmap(nil, bytes, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw DataError("\(path): cannot map (\(String(cString: strerror(errno))))")
        }
        return p
    }

    // MARK: Verifying

    /// Reads every shard and compares its CRC-32 with the manifest's; returns the shards that differ (empty: the
    /// store is as imported) and how many shards it read. `progress` gets (bytes read, bytes in all).
    public static func verify(_ directory: String, progress: (Int, Int) -> Void = { _, _ in }) throws -> (bad: [String], shards: Int) {
        let manifest = try readManifest(directory)
        let total = manifest.splits.reduce(0) { $0 + $1.bytes }
        var done = 0
        var bad: [String] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 22)
        for split in manifest.splits {
            for shard in split.shards {
                let path = (directory as NSString).appendingPathComponent(shard.file) + ".pixels"
                guard let handle = FileHandle(forReadingAtPath: path) else { bad.append("\(path): missing"); continue }
                defer { try? handle.close() }
                var crc = crc32(0, nil, 0)
                var size = 0
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    crc = buffer.withUnsafeBytes { crc32(crc, $0.bindMemory(to: UInt8.self).baseAddress, UInt32(n)) }
                    size += n
                    done += n
                    progress(done, total)
                }
                let got = String(format: "%08x", UInt32(crc))
                if size != shard.bytes { bad.append("\(path): \(size) bytes, the manifest says \(shard.bytes)") }
                else if got != shard.crc32 { bad.append("\(path): CRC-32 \(got), the manifest says \(shard.crc32)") }
            }
        }
        return (bad, manifest.splits.reduce(0) { $0 + $1.shards.count })
    }
}

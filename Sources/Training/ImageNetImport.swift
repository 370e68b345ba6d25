// `easgd data import imagenet SRC --out STORE`: the ILSVRC-2012 folders decoded once into an image store.
//
// The layout read: SRC/train/<wnid>/*.JPEG (the classes are train's subdirectories, sorted: label = rank), and
// either SRC/val/<wnid>/*.JPEG or SRC/val/*.JPEG with a labels file (`--val-labels`: one line per image, its file
// name then its class as a WordNet id or a 0-based index into the sorted classes, separated by white space or a
// comma: Caffe's val.txt and Kaggle's LOC_val_solution.csv both read). Each file is decoded by libjpeg-turbo
// (ISLOW DCT, fancy upsampling: the library's defaults, as Pillow's), greyscale replicated to RGB, CMYK converted
// as Pillow converts it, then resized so that its smaller side is `shortSide` (the paper's 256) and the longer
// ⌊long · shortSide / short⌋ (torchvision's Resize rule) with Pillow's antialiased bilinear filter, bit for bit.
// PNG data under a JPEG name (ILSVRC-2012 has one) is decoded as PNG (zlib) and reported. Files that cannot be used
// (not decodable, truncated, GIF data) are left out and listed; nothing is dropped without a line in problems.tsv
// and a count in the manifest.

import CImage
import CZlib
import Foundation
import Records
import Synchronization

public enum ImageNetImport {
    public struct Settings: Sendable {
        public var source: String
        public var out: String
        public var shortSide = 256
        public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
        public var valLabels: String?
        /// Source files per shard (the unit an interrupted import resumes from).
        public var shardFiles = 1024
        /// The largest decoded image accepted (pixels); ILSVRC-2012's largest is about 12 M.
        public var maxPixels = 64 << 20

        public init(source: String, out: String) {
            self.source = source
            self.out = out
        }
    }

    public struct Report: Sendable {
        public var manifest: ImageStore.Manifest
        /// The store was already finished: nothing was read or written.
        public var alreadyFinished = false
        /// Shards found complete from an earlier import, and shards written now.
        public var resumedShards: Int
        public var writtenShards: Int
        /// Images decoded now, and the wall time it took.
        public var decodedImages: Int
        public var seconds: Double
    }

    /// One file the import reads: where it is (relative to SRC) and its label.
    struct SourceFile: Sendable {
        var path: String
        var label: Int
    }

    /// What one file became.
    public struct Prepared: Sendable {
        /// CHW bytes at (height, width); empty when the file was dropped.
        public var pixels: [UInt8]
        public var height: Int
        public var width: Int
        /// nil: stored as it was; else what happened ("greyscale", "cmyk", "warning", "dropped: …").
        public var problem: String?
        public var message: String
        public var dropped: Bool { pixels.isEmpty }
    }

    /// The size an image of w × h is resized to: the smaller side `side`, the longer ⌊long · side / short⌋.
    public static func resizedSize(width w: Int, height h: Int, shortSide side: Int) -> (width: Int, height: Int) {
        if w <= h { return (side, max(1, side * h / w)) }
        return (max(1, side * w / h), side)
    }

    /// Decodes one file's bytes and resizes it (see the file's header); never throws: what went wrong is in the result.
    public static func prepare(_ bytes: [UInt8], shortSide: Int, maxPixels: Int = 64 << 20) -> Prepared {
        func dropped(_ why: String, _ message: String = "") -> Prepared {
            Prepared(pixels: [], height: 0, width: 0, problem: "dropped: " + why, message: message)
        }
        if bytes.starts(with: [0x47, 0x49, 0x46]) { return dropped("GIF data, not a JPEG") }
        let png = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47])
        var rgb: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0, kind: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            png ? easgd_png_decode(b.baseAddress, b.count, &rgb, &w, &h, maxPixels, &message, message.count)
                : easgd_jpeg_decode(b.baseAddress, b.count, &rgb, &w, &h, &kind, maxPixels, &message, message.count)
        }
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        switch Int(status) {
        case Int(EASGD_JPEG_ERROR.rawValue): return dropped(png ? "PNG data, not decodable" : "not decodable", text)
        case Int(EASGD_JPEG_TRUNCATED.rawValue): return dropped(png ? "PNG data, truncated" : "truncated", text)
        default: break
        }
        guard let rgb else { return dropped("not decodable", text) }
        defer { free(rgb) }
        let (ow, oh) = resizedSize(width: Int(w), height: Int(h), shortSide: shortSide)
        guard ow <= Int(UInt16.max), oh <= Int(UInt16.max) else { return dropped("\(w) x \(h): too elongated (the longer side would exceed 65,535)") }
        var resized = [UInt8](repeating: 0, count: ow * oh * 3)
        var scratch = [UInt8](repeating: 0, count: max(ow * Int(h), Int(w) * oh) * 3)
        let r = resized.withUnsafeMutableBufferPointer { out in
            scratch.withUnsafeMutableBufferPointer { s in
                easgd_resize_bilinear(rgb, w, h, 3, out.baseAddress, Int32(ow), Int32(oh), s.baseAddress)
            }
        }
        guard r == 0 else { return dropped("out of memory resizing") }
        // Interleaved RGB → CHW.
        var chw = [UInt8](repeating: 0, count: ow * oh * 3)
        let plane = ow * oh
        resized.withUnsafeBufferPointer { src in
            chw.withUnsafeMutableBufferPointer { dst in
                for i in 0..<plane {
                    dst[i] = src[3 * i]; dst[plane + i] = src[3 * i + 1]; dst[2 * plane + i] = src[3 * i + 2]
                }
            }
        }
        var problem: String?
        if png { problem = "png" }
        else if Int(status) == Int(EASGD_JPEG_WARNING.rawValue) { problem = "warning" }
        else if kind == Int32(EASGD_JPEG_GREY.rawValue) { problem = "greyscale" }
        else if kind == Int32(EASGD_JPEG_CMYK.rawValue) { problem = "cmyk" }
        return Prepared(pixels: chw, height: oh, width: ow, problem: problem, message: problem == "warning" ? text : "")
    }

    // MARK: The source's layout

    static func listDirectory(_ path: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted() } catch {
            throw DataError("\(path): cannot list (\(error.localizedDescription))")
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// The classes and the files of each split, in the order the store keeps them.
    static func scan(_ settings: Settings) throws -> (classes: [String], train: [SourceFile], val: [SourceFile]) {
        let src = settings.source
        let trainDir = (src as NSString).appendingPathComponent("train"), valDir = (src as NSString).appendingPathComponent("val")
        guard isDirectory(trainDir) else { throw DataError("\(src): no train/ directory (expected ILSVRC-2012's train/<wnid>/*.JPEG)") }
        guard isDirectory(valDir) else { throw DataError("\(src): no val/ directory (expected val/<wnid>/*.JPEG or val/*.JPEG with --val-labels)") }
        let classes = try listDirectory(trainDir).filter { isDirectory((trainDir as NSString).appendingPathComponent($0)) }
        guard !classes.isEmpty else { throw DataError("\(trainDir): no class directories") }
        guard classes.count <= Int(UInt16.max) else { throw DataError("\(trainDir): \(classes.count) classes, at most \(UInt16.max)") }
        let label = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        func files(in dir: String, relative: String, label: Int) throws -> [SourceFile] {
            try listDirectory(dir).filter { !isDirectory((dir as NSString).appendingPathComponent($0)) }
                .map { SourceFile(path: relative + "/" + $0, label: label) }
        }
        var train: [SourceFile] = []
        for (k, name) in classes.enumerated() {
            train += try files(in: (trainDir as NSString).appendingPathComponent(name), relative: "train/" + name, label: k)
        }
        var val: [SourceFile] = []
        let entries = try listDirectory(valDir)
        let subdirectories = entries.filter { isDirectory((valDir as NSString).appendingPathComponent($0)) }
        if !subdirectories.isEmpty {
            if settings.valLabels != nil { throw DataError("\(valDir): has class directories; --val-labels is for a flat val/") }
            for name in subdirectories {
                guard let k = label[name] else { throw DataError("\(valDir)/\(name): a class train/ does not have") }
                val += try files(in: (valDir as NSString).appendingPathComponent(name), relative: "val/" + name, label: k)
            }
        } else {
            guard let labelsPath = settings.valLabels else {
                throw DataError("\(valDir): images without class directories; give their labels with --val-labels FILE")
            }
            let given = try readValLabels(labelsPath, classes: classes, label: label)
            for name in entries {
                let stem = (name as NSString).deletingPathExtension
                guard let k = given[name] ?? given[stem] else {
                    throw DataError("\(valDir)/\(name): no label in \(labelsPath)")
                }
                val.append(SourceFile(path: "val/" + name, label: k))
            }
        }
        guard !train.isEmpty, !val.isEmpty else { throw DataError("\(src): \(train.count) training and \(val.count) validation files") }
        return (classes, train, val)
    }

    /// `name class` per line (white space or a comma between); class a WordNet id or a 0-based index. A first line
    /// whose class is neither (a CSV header) is skipped.
    static func readValLabels(_ path: String, classes: [String], label: [String: Int]) throws -> [String: Int] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw DataError("\(path): cannot read") }
        var result: [String: Int] = [:]
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
            if fields.isEmpty { continue }
            guard fields.count >= 2 else { throw DataError("\(path):\(n + 1): expected a file name and a class") }
            let name = String(fields[0]), value = String(fields[1])
            if let k = label[value] { result[name] = k; continue }
            if let k = Int(value), k >= 0, k < classes.count { result[name] = k; continue }
            if n == 0 { continue }
            throw DataError("\(path):\(n + 1): class \"\(value)\" is neither one of train/'s \(classes.count) WordNet ids nor an index below \(classes.count)")
        }
        return result
    }

    /// FNV-1a over the paths of `files`.
    static func hash(_ files: ArraySlice<SourceFile>) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for f in files { for b in f.path.utf8 + [0] { h = (h ^ UInt64(b)) &* 0x100000001b3 } }
        return h
    }

    // MARK: The import

    /// Imports (or resumes importing) `settings.source` into `settings.out`. `progress` gets a line every few seconds.
    public static func run(_ settings: Settings, progress: @escaping (String) -> Void) throws -> Report {
        guard settings.shortSide >= 1, settings.shortSide <= 4096 else { throw SettingsError("--short-side \(settings.shortSide): give 1 ... 4096") }
        guard settings.threads >= 1 else { throw SettingsError("--threads \(settings.threads): give at least 1") }
        let scanned = try scan(settings)
        let fm = FileManager.default
        let out = settings.out
        if ImageStore.isStore(out) {
            let manifest = try ImageStore.readManifest(out)
            guard manifest.shortSide == settings.shortSide else {
                throw SettingsError("\(out): a finished store of smaller side \(manifest.shortSide), not \(settings.shortSide); give another --out")
            }
            return Report(manifest: manifest, alreadyFinished: true, resumedShards: manifest.splits.reduce(0) { $0 + $1.shards.count },
                          writtenShards: 0, decodedImages: 0, seconds: 0)
        }
        for split in ["train", "val"] {
            try fm.createDirectory(atPath: (out as NSString).appendingPathComponent(split), withIntermediateDirectories: true)
        }
        let lock = try DirectoryLock(out)
        defer { lock.release() }
        // A store is made for one smaller side: an unfinished one records it before its first shard.
        let sidePath = (out as NSString).appendingPathComponent("short-side")
        if let written = try? String(contentsOfFile: sidePath, encoding: .utf8) {
            guard Int(written.trimmingCharacters(in: .whitespacesAndNewlines)) == settings.shortSide else {
                throw SettingsError("\(out): an unfinished import of smaller side \(written.trimmingCharacters(in: .whitespacesAndNewlines)), not \(settings.shortSide); resume it with that --short-side or give another --out")
            }
        } else {
            try AtomicFile.write("\(settings.shortSide)\n", to: sidePath)
        }
        try AtomicFile.write(scanned.classes.joined(separator: "\n") + "\n", to: (out as NSString).appendingPathComponent("classes.txt"))

        let writer = ShardWriter()
        defer { try? writer.finish() }
        let splits = [("train", scanned.train), ("val", scanned.val)]
        let totalFiles = scanned.train.count + scanned.val.count
        let start = Date()
        var resumed = 0, written = 0, decoded = 0, filesDone = 0
        var lastReport = Date.distantPast
        var entries: [ImageStore.Manifest.Split] = []
        var sums = [UInt64](repeating: 0, count: 3), perChannel: UInt64 = 0
        var problemLines: [String] = []
        var counts = (dropped: 0, grey: 0, cmyk: 0, png: 0, warnings: 0)

        for (name, files) in splits {
            let shards = (files.count + settings.shardFiles - 1) / settings.shardFiles
            var shardEntries: [ImageStore.Manifest.Shard] = []
            var images = 0
            for k in 0..<shards {
                let range = (k * settings.shardFiles)..<min(files.count, (k + 1) * settings.shardFiles)
                let base = (out as NSString).appendingPathComponent("\(name)/\(ImageStore.shardName(k))")
                let expectedHash = hash(files[range])
                var index: ImageStore.ShardIndex
                if let done = try? ImageStore.ShardIndex.read(base + ".index"), done.firstSource == UInt32(range.lowerBound),
                   done.sourceCount == UInt32(range.count), done.sourceHash == expectedHash,
                   let size = try? fm.attributesOfItem(atPath: base + ".pixels")[.size] as? Int, size == Int(exactly: done.pixelBytes),
                   fm.fileExists(atPath: base + ".problems") {
                    index = done
                    resumed += 1
                } else {
                    if fm.fileExists(atPath: base + ".index") {
                        // Made from other files than the source lists now (or damaged): made again.
                        try? fm.removeItem(atPath: base + ".index")
                    }
                    let shard = try decodeShard(files[range], first: range.lowerBound, hash: expectedHash, settings: settings)
                    index = shard.index
                    // Written while the next shard decodes (one write in flight: at most two shards in memory).
                    try writer.write(shard, base: base)
                    written += 1
                    decoded += range.count
                }
                let problems = index.problems ?? (try? String(contentsOfFile: base + ".problems", encoding: .utf8)) ?? ""
                for line in problems.split(separator: "\n") {
                    problemLines.append("\(name)\t\(line)")
                    let what = line.split(separator: "\t", omittingEmptySubsequences: false).dropFirst().first ?? ""
                    if what.hasPrefix("dropped") { counts.dropped += 1 }
                    else if what == "greyscale" { counts.grey += 1 }
                    else if what == "cmyk" { counts.cmyk += 1 }
                    else if what == "png" { counts.png += 1 }
                    else if what == "warning" { counts.warnings += 1 }
                }
                if name == "train" {
                    for c in 0..<3 { sums[c] += index.channelSums[c] }
                    perChannel += index.pixelsPerChannel
                }
                images += index.entries.count
                shardEntries.append(.init(file: "\(name)/\(ImageStore.shardName(k))", images: index.entries.count,
                                          bytes: Int(index.pixelBytes), crc32: String(format: "%08x", index.crc32)))
                filesDone += range.count
                let now = Date()
                if now.timeIntervalSince(lastReport) >= 2 || filesDone == totalFiles {
                    lastReport = now
                    let elapsed = now.timeIntervalSince(start)
                    let rate = Double(decoded) / max(elapsed, 1e-9)
                    let left = Double(totalFiles - filesDone) / max(rate, 1e-9)
                    let eta = decoded == 0 || filesDone == totalFiles ? "" : ", ETA \(duration(left))"
                    progress("\(name) shard \(k + 1)/\(shards): \(filesDone)/\(totalFiles) files (\(String(format: "%.1f", 100 * Double(filesDone) / Double(totalFiles))) %)"
                             + (decoded > 0 ? ", \(Int(rate.rounded())) images/s" : "") + eta)
                }
            }
            entries.append(.init(name: name, images: images, sourceFiles: files.count,
                                 bytes: shardEntries.reduce(0) { $0 + $1.bytes }, shards: shardEntries))
        }
        try writer.finish()
        guard perChannel > 0 else { throw DataError("\(settings.source): no training image could be decoded (see \(out)/problems.tsv)") }
        try AtomicFile.write("split\tfile\twhat\tmessage\n" + problemLines.map { $0 + "\n" }.joined(),
                             to: (out as NSString).appendingPathComponent("problems.tsv"))
        let manifest = ImageStore.Manifest(
            format: ImageStore.formatName, version: ImageStore.formatVersion, source: settings.source,
            created: ISO8601DateFormatter().string(from: Date()), shortSide: settings.shortSide,
            resize: "smaller side \(settings.shortSide), longer floor(long * \(settings.shortSide) / short) (torchvision's Resize); "
                + "triangle (bilinear) filter widened by the scale when shrinking, Pillow's Image.resize(BILINEAR) arithmetic; "
                + "libjpeg-turbo decoding (ISLOW DCT, fancy upsampling)",
            classes: scanned.classes, channelMean: sums.map { Double($0) / Double(perChannel) / 255 }, splits: entries,
            problems: .init(dropped: counts.dropped, greyscale: counts.grey, cmyk: counts.cmyk, png: counts.png, warnings: counts.warnings,
                            file: "problems.tsv"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(manifest), to: (out as NSString).appendingPathComponent(ImageStore.manifestName))
        return Report(manifest: manifest, resumedShards: resumed, writtenShards: written, decodedImages: decoded,
                      seconds: Date().timeIntervalSince(start))
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 90 { return "\(s) s" }
        if s < 5400 { return "\(s / 60) min" }
        return String(format: "%.1f h", seconds / 3600)
    }

    /// A shard decoded, ready to write.
    struct DecodedShard: @unchecked Sendable {
        /// The index, its `problems` (the .problems file's text) set.
        var index: ImageStore.ShardIndex
        var pixels: Data
    }

    /// Decodes the shard's files on `settings.threads` threads into its pixels, index and problems.
    static func decodeShard(_ files: ArraySlice<SourceFile>, first: Int, hash: UInt64, settings: Settings) throws -> DecodedShard {
        let list = Array(files)
        let results = UnsafeMutableBufferPointer<Prepared?>.allocate(capacity: list.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let next = Atomic<Int>(0)
        let shared = SharedResults(results)
        DispatchQueue.concurrentPerform(iterations: min(settings.threads, list.count)) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= list.count { break }
                let path = (settings.source as NSString).appendingPathComponent(list[i].path)
                let prepared: Prepared
                if let data = FileManager.default.contents(atPath: path) {
                    prepared = prepare([UInt8](data), shortSide: settings.shortSide, maxPixels: settings.maxPixels)
                } else {
                    prepared = Prepared(pixels: [], height: 0, width: 0, problem: "dropped: unreadable", message: "")
                }
                shared.buffer[i] = prepared
            }
        }
        var index = ImageStore.ShardIndex(firstSource: UInt32(first), sourceCount: UInt32(list.count), sourceHash: hash,
                                          crc32: 0, pixelBytes: 0, channelSums: [0, 0, 0], pixelsPerChannel: 0, entries: [])
        let total = results.reduce(0) { $0 + ($1?.pixels.count ?? 0) }
        try MemoryEstimate.check(total, for: "a shard of \(list.count) images")
        var pixels = Data(capacity: total)
        var problems = ""
        var crc = crc32(0, nil, 0)
        for (i, result) in results.enumerated() {
            guard let r = result else { continue }
            if let problem = r.problem {
                let message = r.message.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
                problems += "\(list[i].path)\t\(problem)\t\(message)\n"
            }
            if r.dropped { continue }
            index.entries.append(.init(offset: UInt64(pixels.count), height: UInt16(r.height), width: UInt16(r.width),
                                       label: UInt16(list[i].label)))
            let plane = r.height * r.width
            r.pixels.withUnsafeBufferPointer { p in
                for c in 0..<3 {
                    var s: UInt64 = 0
                    for k in (c * plane)..<((c + 1) * plane) { s += UInt64(p[k]) }
                    index.channelSums[c] += s
                }
                crc = crc32(crc, p.baseAddress, UInt32(p.count))
            }
            index.pixelsPerChannel += UInt64(plane)
            pixels.append(contentsOf: r.pixels)
        }
        index.crc32 = UInt32(crc)
        index.pixelBytes = UInt64(pixels.count)
        index.problems = problems
        return DecodedShard(index: index, pixels: pixels)
    }

    /// Writes shards on a thread of its own, one at a time: .pixels, .problems and last .index, each durably under a
    /// temporary name. `write` waits for the previous shard's files and throws its error, if any.
    final class ShardWriter: @unchecked Sendable {
        private let queue = DispatchQueue(label: "easgd.import.writer")
        private let group = DispatchGroup()
        private let failure = Mutex<(any Error)?>(nil)

        func write(_ shard: DecodedShard, base: String) throws {
            try finish()
            queue.async(group: group) { [self] in
                do {
                    try AtomicFile.write(shard.pixels, to: base + ".pixels")
                    try AtomicFile.write(shard.index.problems ?? "", to: base + ".problems")
                    try AtomicFile.write(shard.index.encoded(), to: base + ".index")
                } catch {
                    failure.withLock { $0 = error }
                }
            }
        }

        /// Waits for the shard being written; throws what went wrong.
        func finish() throws {
            group.wait()
            if let error = failure.withLock({ e -> (any Error)? in defer { e = nil }; return e }) { throw error }
        }
    }

    /// The per-file results, each slot written by exactly one thread.
    final class SharedResults: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<Prepared?>
        init(_ buffer: UnsafeMutableBufferPointer<Prepared?>) { self.buffer = buffer }
    }
}

// Labelled images held as bytes (as stored on disk), and the two on-disk formats the toolkit reads:
// IDX (MNIST, Fashion-MNIST) and the CIFAR-10 binary version, each plain or gzipped.

import Elastic
import Foundation

public struct Dataset: Sendable {
    public var name: String
    /// The stored image size (e.g. 3×32×32 for CIFAR-10, 1×28×28 for Fashion-MNIST); for a store of images of
    /// several sizes (ImageNet's, the smaller side 256), the smallest height and the smallest width.
    public var shape: Shape
    /// The largest height and width stored (`shape` unless the images differ in size).
    public var largest: Shape
    public var labels: [Int32]
    public var classes: Int
    /// The per-channel mean of the training pixels in [0, 1] when the data carries it (an image store's, computed
    /// at import over all its training images); nil: computed from the images by `Preprocessing`.
    public var channelMean: [Float]?
    /// Where each image's bytes start (CHW order, its own height and width) in `storage`, which keeps them alive.
    let images: [StoredImage]
    let storage: PixelStorage
    public var count: Int { labels.count }

    /// Images of one size held in memory: count × shape.count bytes, image-major, each image in CHW order.
    public init<Label: BinaryInteger>(name: String, shape: Shape, pixels: [UInt8], labels: [Label], classes: Int) {
        precondition(pixels.count == labels.count * shape.count, "pixel count does not match labels × image size")
        let storage = PixelStorage(copying: pixels)
        let size = shape.count
        let images = (0..<labels.count).map {
            StoredImage(start: storage.base + $0 * size, height: Int32(shape.height), width: Int32(shape.width))
        }
        self.init(name: name, shape: shape, largest: shape, labels: labels.map { Int32($0) }, classes: classes,
                  images: images, storage: storage)
    }

    init(name: String, shape: Shape, largest: Shape, labels: [Int32], classes: Int, channelMean: [Float]? = nil,
         images: [StoredImage], storage: PixelStorage) {
        precondition(images.count == labels.count, "one label per image")
        self.name = name
        self.shape = shape
        self.largest = largest
        self.labels = labels
        self.classes = classes
        self.channelMean = channelMean
        self.images = images
        self.storage = storage
    }

    /// Image `index`'s bytes (CHW) and its height and width.
    public func image(_ index: Int) -> (pixels: UnsafePointer<UInt8>, height: Int, width: Int) {
        let image = images[index]
        return (image.start, Int(image.height), Int(image.width))
    }

    /// All images' bytes one after another (for tests and small sets: a copy).
    public var pixels: [UInt8] {
        var all = [UInt8]()
        for i in 0..<count {
            let (p, h, w) = image(i)
            all += UnsafeBufferPointer(start: p, count: shape.channels * h * w)
        }
        return all
    }

    /// The images at `indices`, in that order, sharing this data set's storage.
    public func selecting(_ indices: [Int], name: String) -> Dataset {
        let chosen = indices.map { images[$0] }
        var small = Shape(channels: shape.channels, height: Int(Int32.max), width: Int(Int32.max))
        var large = Shape(channels: shape.channels, height: 0, width: 0)
        for image in chosen {
            small.height = min(small.height, Int(image.height)); small.width = min(small.width, Int(image.width))
            large.height = max(large.height, Int(image.height)); large.width = max(large.width, Int(image.width))
        }
        if chosen.isEmpty { small = shape; large = largest }
        return Dataset(name: name, shape: small, largest: large, labels: indices.map { labels[$0] }, classes: classes,
                       channelMean: channelMean, images: chosen, storage: storage)
    }

    /// The first `n` images (a fixed subset: training loss on it, quick tests).
    public func prefix(_ n: Int) -> Dataset {
        let k = min(max(n, 0), count)
        return selecting(Array(0..<k), name: k == count ? name : "\(name) (first \(k))")
    }
}

/// Where one stored image starts, and its size.
struct StoredImage: @unchecked Sendable {
    let start: UnsafePointer<UInt8>
    let height: Int32
    let width: Int32
}

/// The bytes images point into: a copy in memory, or files mapped read-only (an image store); never written after
/// it is made, so it may be shared across threads.
final class PixelStorage: @unchecked Sendable {
    let base: UnsafePointer<UInt8>
    private let release: () -> Void

    init(copying bytes: [UInt8]) {
        let memory = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        bytes.withUnsafeBufferPointer { if let b = $0.baseAddress { memory.initialize(from: b, count: bytes.count) } }
        base = UnsafePointer(memory)
        release = { memory.deallocate() }
    }

    /// Storage whose memory `release` gives back (mapped files); `base` is unused.
    init(base: UnsafePointer<UInt8>, release: @escaping () -> Void) {
        self.base = base
        self.release = release
    }

    deinit { release() }
}

public struct DataSplit: Sendable {
    public var train: Dataset
    public var test: Dataset
    /// Where the files came from and in which format, for run records.
    public var source: String
    public var format: String

    /// `--train-subset N`: N training images chosen by a permutation seeded from `seed` (the run's), kept in
    /// their stored order; the test set is unchanged.
    public func trainSubset(_ n: Int?, seed: UInt64) throws -> DataSplit {
        guard let n else { return self }
        guard n >= 1, n <= train.count else {
            throw DataError("--train-subset \(n): \(train.name) has \(train.count) images")
        }
        guard n < train.count else { return self }
        var rng = SplitMix64.derived(from: seed ^ 0x5B5E7, stream: 0)
        var p = Array(0..<train.count)
        for i in 0..<n { p.swapAt(i, i + rng.nextInt(below: train.count - i)) }
        let chosen = p.prefix(n).sorted()
        var split = self
        split.train = train.selecting(chosen, name: "\(train.name) (subset of \(n), seed \(seed))")
        return split
    }
}

public enum DataSource {
    /// The embedded default: Fashion-MNIST from the Debian package dataset-fashion-mnist.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Loads "fashion-mnist" (the Debian copy) or a directory holding CIFAR-10 binary files or IDX files.
    public static func load(_ argument: String) throws -> DataSplit {
        if argument.lowercased() == "fashion-mnist" {
            let dir = ProcessInfo.processInfo.environment["EASGD_FASHION_MNIST"] ?? fashionMNISTDirectory
            guard FileManager.default.fileExists(atPath: dir) else {
                throw DataError("Fashion-MNIST not found at \(dir); install it with: apt-get install -y dataset-fashion-mnist")
            }
            return try loadIDX(directory: dir, name: "fashion-mnist")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError("\(argument): not a directory (give a data directory or 'fashion-mnist')")
        }
        if ImageStore.isStore(argument) { return try ImageStore.load(argument) }
        if findFile(in: argument, "data_batch_1.bin") != nil { return try loadCIFAR10(directory: argument) }
        if findFile(in: argument, "train-images-idx3-ubyte") != nil {
            return try loadIDX(directory: argument, name: URL(fileURLWithPath: argument).lastPathComponent)
        }
        if FileManager.default.fileExists(atPath: (argument as NSString).appendingPathComponent("short-side")) {
            throw DataError("\(argument): an unfinished image store (run its `easgd data import` again to finish it)")
        }
        throw DataError("\(argument): no image store (manifest.json), CIFAR-10 binary files (data_batch_1.bin[.gz]) or IDX files (train-images-idx3-ubyte[.gz]) found")
    }

    /// `name` or `name.gz` in `dir`, whichever exists.
    static func findFile(in dir: String, _ name: String) -> String? {
        for candidate in [name, name + ".gz"] {
            let path = (dir as NSString).appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    static func requireFile(in dir: String, _ name: String) throws -> String {
        guard let path = findFile(in: dir, name) else { throw DataError("\(dir): missing \(name) (or \(name).gz)") }
        return path
    }

    // MARK: IDX

    public static func loadIDX(directory dir: String, name: String) throws -> DataSplit {
        let train = try loadIDX(images: requireFile(in: dir, "train-images-idx3-ubyte"),
                                labels: requireFile(in: dir, "train-labels-idx1-ubyte"), name: name + "/train")
        let test = try loadIDX(images: requireFile(in: dir, "t10k-images-idx3-ubyte"),
                               labels: requireFile(in: dir, "t10k-labels-idx1-ubyte"), name: name + "/test")
        guard train.shape == test.shape else {
            throw DataError("\(dir): train images are \(train.shape) but test images are \(test.shape)")
        }
        return DataSplit(train: train, test: test, source: dir, format: "IDX")
    }

    public static func loadIDX(images imagesPath: String, labels labelsPath: String, name: String) throws -> Dataset {
        let (imageDims, pixels) = try parseIDX(imagesPath, dimensions: 3)
        let (labelDims, labels) = try parseIDX(labelsPath, dimensions: 1)
        guard imageDims[0] == labelDims[0] else {
            throw DataError("\(labelsPath): \(labelDims[0]) labels but \(imagesPath) has \(imageDims[0]) images")
        }
        guard imageDims[0] > 0 else { throw DataError("\(imagesPath): holds no images") }
        if let bad = labels.first(where: { $0 > 9 }) {
            throw DataError("\(labelsPath): label \(bad) outside 0...9")
        }
        return Dataset(name: name, shape: Shape(channels: 1, height: imageDims[1], width: imageDims[2]),
                       pixels: pixels, labels: labels, classes: 10)
    }

    /// An IDX file of unsigned bytes: magic 0x00 0x00 0x08 ndims, ndims big-endian UInt32 sizes, then the data.
    static func parseIDX(_ path: String, dimensions: Int) throws -> (dims: [Int], data: [UInt8]) {
        let bytes = try GzipFile.read(path)
        let expectedMagic = String(format: "0x0000080%d", dimensions)
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08, Int(bytes[3]) == dimensions else {
            let got = bytes.prefix(4).map { String(format: "%02x", $0) }.joined()
            throw DataError("\(path): not an IDX file of \(dimensions)-D unsigned bytes (expected magic \(expectedMagic), got 0x\(got))")
        }
        let header = 4 + 4 * dimensions
        guard bytes.count >= header else { throw DataError("\(path): truncated IDX header") }
        var dims: [Int] = []
        for d in 0..<dimensions {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        // 0xffffffff × 0xffffffff overflows an Int; such a header matches no file.
        let expected = dims.reduce(1) { a, b in
            let (p, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? Int.max : p
        }
        guard bytes.count - header == expected else {
            throw DataError("\(path): expected \(expected) data bytes for dimensions \(dims.map(String.init).joined(separator: "×")), found \(bytes.count - header) (truncated or wrong file)")
        }
        return (dims, Array(bytes[header...]))
    }

    // MARK: CIFAR-10 binary version

    public static let cifarRecordBytes = 3073

    public static func loadCIFAR10(directory dir: String) throws -> DataSplit {
        var trainFiles: [String] = []
        for b in 1...5 { trainFiles.append(try requireFile(in: dir, "data_batch_\(b).bin")) }
        let train = try loadCIFAR10(files: trainFiles, name: "cifar10/train")
        let test = try loadCIFAR10(files: [try requireFile(in: dir, "test_batch.bin")], name: "cifar10/test")
        return DataSplit(train: train, test: test, source: dir, format: "CIFAR-10 binary")
    }

    /// Records of 3,073 bytes: the label (0–9), then 1,024 red, 1,024 green, 1,024 blue bytes, row by row.
    public static func loadCIFAR10(files: [String], name: String) throws -> Dataset {
        var pixels: [UInt8] = []
        var labels: [UInt8] = []
        let r = cifarRecordBytes
        for path in files {
            let bytes = try GzipFile.read(path)
            guard !bytes.isEmpty, bytes.count % r == 0 else {
                throw DataError("\(path): \(bytes.count) bytes is not a whole number of 3073-byte CIFAR-10 records (truncated or wrong file)")
            }
            let n = bytes.count / r
            pixels.reserveCapacity(pixels.count + n * (r - 1))
            for i in 0..<n {
                let label = bytes[i * r]
                guard label <= 9 else {
                    throw DataError("\(path): record \(i) has label \(label), expected 0...9 (not a CIFAR-10 binary file?)")
                }
                labels.append(label)
                pixels.append(contentsOf: bytes[(i * r + 1)..<((i + 1) * r)])
            }
        }
        return Dataset(name: name, shape: Shape(channels: 3, height: 32, width: 32), pixels: pixels,
                       labels: labels, classes: 10)
    }
}

// Loaders on files written here (plain and gzipped) and on the real data sets; corrupt files name the file
// and what was expected. The batch stream: permutations, crops, flips, and restoring its state.
import Elastic
import Foundation
import Testing
@testable import Training

func temporaryDirectory(_ name: String) throws -> String {
    let dir = NSTemporaryDirectory() + "easgd-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func gzip(_ path: String) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["gzip", "-n", "-f", path]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
}

func idx(dims: [Int], data: [UInt8]) -> [UInt8] {
    var b: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
    for d in dims { b += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
    return b + data
}

func write(_ bytes: [UInt8], _ path: String) { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

func expectDataError(_ substring: String, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error (expected one mentioning \(substring))")
    } catch {
        #expect("\(error)".contains(substring), "\(error)")
    }
}

@Test(arguments: [false, true])
func idxFilesRoundTrip(gzipped: Bool) throws {
    let dir = try temporaryDirectory("idx")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let pixels = (0..<(5 * 4 * 3)).map { UInt8($0 * 7 % 256) }
    let labels: [UInt8] = [3, 1, 4, 1, 5]
    for (name, bytes) in [("train-images-idx3-ubyte", idx(dims: [5, 4, 3], data: pixels)),
                          ("train-labels-idx1-ubyte", idx(dims: [5], data: labels)),
                          ("t10k-images-idx3-ubyte", idx(dims: [2, 4, 3], data: Array(pixels[0..<24]))),
                          ("t10k-labels-idx1-ubyte", idx(dims: [2], data: [9, 0]))] {
        write(bytes, dir + "/" + name)
        if gzipped { try gzip(dir + "/" + name) }
    }
    let split = try DataSource.load(dir)
    #expect(split.format == "IDX")
    #expect(split.train.shape == Shape(channels: 1, height: 4, width: 3))
    #expect(split.train.pixels == pixels && split.train.labels == labels.map { Int32($0) })
    #expect(split.test.labels == [9, 0] && split.test.count == 2)
}

@Test func corruptIDXFilesAreRejected() throws {
    let dir = try temporaryDirectory("idxbad")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let labels = dir + "/labels"
    write(idx(dims: [3], data: [1, 2, 3]), labels)
    let images = dir + "/images"
    write([0, 0, 0x0D, 3] + Array(repeating: 0, count: 20), images)
    expectDataError("expected magic 0x00000803") { _ = try DataSource.loadIDX(images: images, labels: labels, name: "t") }
    write(idx(dims: [3, 2, 2], data: Array(repeating: 1, count: 11)), images)
    expectDataError("expected 12 data bytes") { _ = try DataSource.loadIDX(images: images, labels: labels, name: "t") }
    write(idx(dims: [4, 2, 2], data: Array(repeating: 1, count: 16)), images)
    expectDataError("3 labels but") { _ = try DataSource.loadIDX(images: images, labels: labels, name: "t") }
    write(idx(dims: [3, 2, 2], data: Array(repeating: 1, count: 12)), images)
    write(idx(dims: [3], data: [1, 12, 3]), labels)
    expectDataError("label 12 outside") { _ = try DataSource.loadIDX(images: images, labels: labels, name: "t") }
    // A gzip file cut in half.
    write(idx(dims: [300, 20, 20], data: (0..<120_000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }), images)
    try gzip(images)
    let gz = try Data(contentsOf: URL(fileURLWithPath: images + ".gz"))
    write([UInt8](gz.prefix(gz.count / 2)), images + ".gz")
    expectDataError("images.gz: corrupt or truncated gzip") { _ = try DataSource.loadIDX(images: images + ".gz", labels: labels, name: "t") }
    expectDataError("no such file") { _ = try DataSource.loadIDX(images: dir + "/nothing", labels: labels, name: "t") }
}

@Test func cifarBinaryRecordsAndCorruptFiles() throws {
    let dir = try temporaryDirectory("cifar")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var records: [UInt8] = []
    for i in 0..<3 { records += [UInt8(i * 3)] + (0..<3072).map { UInt8(($0 + i) % 251) } }
    let path = dir + "/batch.bin"
    write(records, path)
    let data = try DataSource.loadCIFAR10(files: [path], name: "t")
    #expect(data.labels == [0, 3, 6])
    #expect(data.shape == Shape(channels: 3, height: 32, width: 32))
    // Record 1: red plane first, then green, then blue, each row by row.
    let greenOffset: Int = 1024 + 32 * 5 + 7
    let expectedGreen = UInt8((greenOffset + 1) % 251)
    #expect(data.pixels[3072 + greenOffset] == expectedGreen)
    write(Array(records.prefix(3073 * 2 + 100)), path)
    expectDataError("not a whole number of 3073-byte CIFAR-10 records") { _ = try DataSource.loadCIFAR10(files: [path], name: "t") }
    records[3073] = 11
    write(records, path)
    expectDataError("record 1 has label 11") { _ = try DataSource.loadCIFAR10(files: [path], name: "t") }
    expectDataError("missing data_batch_2.bin") {
        write(Array(records.prefix(3073)), dir + "/data_batch_1.bin")
        _ = try DataSource.load(dir)
    }
    expectDataError("no image store (manifest.json), CIFAR-10 binary files") { _ = try DataSource.load(try temporaryDirectory("empty")) }
    expectDataError("not a directory") { _ = try DataSource.load(dir + "/nope") }
}

@Test func realFashionMNISTLoads() throws {
    let split = try DataSource.load("fashion-mnist")
    #expect(split.train.count == 60_000 && split.test.count == 10_000)
    #expect(split.train.shape == Shape(channels: 1, height: 28, width: 28))
    // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    var trainCounts = [Int](repeating: 0, count: 10), testCounts = trainCounts
    for l in split.train.labels { trainCounts[Int(l)] += 1 }
    for l in split.test.labels { testCounts[Int(l)] += 1 }
    #expect(trainCounts == Array(repeating: 6000, count: 10))
    #expect(testCounts == Array(repeating: 1000, count: 10))
}

let cifarCopy = "../shared/data/cifar10-jpeg"

@Test(.enabled(if: FileManager.default.fileExists(atPath: cifarCopy + "/data_batch_1.bin.gz")))
func realCIFAR10CopyLoads() throws {
    let split = try DataSource.load(cifarCopy)
    #expect(split.train.count == 50_000 && split.test.count == 10_000)
    // Its README: data_batch_1 holds 981 airplanes, 1008 automobiles and 1053 trucks.
    let first = split.train.labels.prefix(10_000)
    #expect(first.filter { $0 == 0 }.count == 981)
    #expect(first.filter { $0 == 1 }.count == 1008)
    #expect(first.filter { $0 == 9 }.count == 1053)
}

@Test func batchStreamShufflesCropsFlipsAndRestores() throws {
    // 10 images of 1×4×4 whose pixel values encode (image, y, x); the net input is 1×2×2.
    let stored = Shape(channels: 1, height: 4, width: 4)
    let pixels = (0..<10).flatMap { i in (0..<16).map { UInt8(i * 16 + $0) } }
    let data = Dataset(name: "t", shape: stored, pixels: pixels, labels: (0..<10).map { UInt8($0) }, classes: 10)
    let prep = try Preprocessing(train: data, input: Shape(channels: 1, height: 2, width: 2))
    #expect(prep.crops)
    let mean = Float((0..<160).reduce(0, +)) / 160 / 255
    #expect(abs(prep.mean[0] - mean) < 1e-6)

    var stream = try BatchStream(data: data, preprocessing: prep, batchSize: 5, seed: 42)
    #expect(stream.batchesPerEpoch == 2)
    var images = [Float](repeating: 0, count: 5 * 4)
    var labels = [Int32](repeating: 0, count: 5)
    var seen: [Int32] = []
    var flips = 0
    for _ in 0..<2 {
        stream.next(images: &images, labels: &labels)
        seen += labels
        for b in 0..<5 {
            // Undo the scaling and mean: each 2×2 window is a crop of image labels[b], possibly mirrored.
            let v = (0..<4).map { Int(((images[b * 4 + $0] + mean) * 255).rounded()) - Int(labels[b]) * 16 }
            let (y0, x0) = (min(v[0], v[1]) / 4, min(v[0], v[1]) % 4)
            #expect(y0 <= 2 && x0 <= 2)
            let plain = [y0 * 4 + x0, y0 * 4 + x0 + 1, (y0 + 1) * 4 + x0, (y0 + 1) * 4 + x0 + 1]
            let mirrored = [plain[1], plain[0], plain[3], plain[2]]
            #expect(v == plain || v == mirrored)
            if v == mirrored { flips += 1 }
        }
    }
    #expect(Set(seen).count == 10)            // one epoch: every image once
    #expect(flips > 0 && flips < 10)
    let saved = stream.state
    var a = stream, b = stream
    var ia = images, ib = images, la = labels, lb = labels
    a.next(images: &ia, labels: &la)
    b.restore(saved)
    b.next(images: &ib, labels: &lb)
    #expect(ia == ib && la == lb && a.epoch == 1)
    // Evaluation takes the centre crop (offset 1 for 4 → 2).
    var centre = [Float](repeating: 0, count: 4)
    prep.writeCentre(data, index: 3, into: &centre)
    #expect(centre.map { Int((($0 + mean) * 255).rounded()) } == [48 + 5, 48 + 6, 48 + 9, 48 + 10])
    // Different seeds give different orders; the order is a permutation.
    let p1 = BatchStream.permutation(count: 1000, seed: 1, epoch: 0)
    let p2 = BatchStream.permutation(count: 1000, seed: 2, epoch: 0)
    #expect(p1 != p2 && Set(p1).count == 1000 && p1.sorted() == (0..<1000).map { Int32($0) })
}

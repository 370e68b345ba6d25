// The ImageNet import and its store, on JPEGs the tests encode themselves (libjpeg-turbo): the resize against
// closed forms (the size rule; constants and linear ramps, which the normalised triangle filter keeps), the layouts,
// greyscale, CMYK, truncated and PNG-named-JPEG files reported, counts, labels, checksums, resuming, and the batch
// stream on the mapped store (crops inside each image, determinism by seed). Pillow, on the same files, is the peer
// in Tests/python/test_imagenet_import.py (bit for bit).
import CImage
import Elastic
import Foundation
import Testing
@testable import Training

/// A w × h RGB image whose pixels depend on (x, y, seed), as interleaved bytes.
func syntheticImage(width w: Int, height h: Int, seed: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
        for x in 0..<w {
            let i = 3 * (y * w + x)
            bytes[i] = UInt8(truncatingIfNeeded: x * 3 + seed * 40)
            bytes[i + 1] = UInt8(truncatingIfNeeded: y * 5 + seed * 17)
            bytes[i + 2] = UInt8(truncatingIfNeeded: (x ^ y) * 7 + seed)
        }
    }
    return bytes
}

/// JPEG bytes of `pixels` (components 1, 3 or 4) by libjpeg-turbo.
func jpeg(_ pixels: [UInt8], width: Int, height: Int, components: Int, quality: Int = 92) throws -> [UInt8] {
    var out: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    let r = pixels.withUnsafeBufferPointer { easgd_jpeg_encode($0.baseAddress, Int32(width), Int32(height), Int32(components), Int32(quality), &out, &size) }
    guard r == 0, let out else { throw DataError("the test's JPEG encoder failed") }
    defer { easgd_jpeg_free(out) }
    return Array(UnsafeBufferPointer(start: out, count: Int(size)))
}

func resize(_ pixels: [UInt8], _ w: Int, _ h: Int, channels: Int = 3, to ow: Int, _ oh: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: ow * oh * channels)
    var scratch = [UInt8](repeating: 0, count: max(ow * h, w * oh) * channels)
    let r = easgd_resize_bilinear(pixels, Int32(w), Int32(h), Int32(channels), &out, Int32(ow), Int32(oh), &scratch)
    #expect(r == 0)
    return out
}

@Test func theSmallerSideBecomesTheGivenOneTheLongerInProportionRoundedDown() {
    #expect(ImageNetImport.resizedSize(width: 500, height: 375, shortSide: 256) == (341, 256))   // 500·256/375 = 341.3
    #expect(ImageNetImport.resizedSize(width: 375, height: 500, shortSide: 256) == (256, 341))
    #expect(ImageNetImport.resizedSize(width: 256, height: 256, shortSide: 256) == (256, 256))
    #expect(ImageNetImport.resizedSize(width: 100, height: 50, shortSide: 256) == (512, 256))     // enlarged
    #expect(ImageNetImport.resizedSize(width: 333, height: 500, shortSide: 256) == (256, 384))   // 500·256/333 = 384.38
}

/// The triangle filter's weights are normalised: a constant image stays that constant, and a ramp along x is
/// sampled at the output pixels' centres (x_out + ½)·s − ½ away from the borders, to within the 8-bit rounding.
@Test func theResizeKeepsConstantsAndRampsAsTheNormalisedTriangleFilterMust() {
    let (w, h) = (90, 60)
    let constant = [UInt8](repeating: 137, count: w * h * 3)
    for (ow, oh) in [(45, 30), (31, 17), (200, 130), (90, 20), (20, 60)] {
        #expect(resize(constant, w, h, to: ow, oh).allSatisfy { $0 == 137 }, "\(ow)×\(oh)")
    }
    var ramp = [UInt8](repeating: 0, count: w * h)
    for y in 0..<h { for x in 0..<w { ramp[y * w + x] = UInt8(2 * x + 10) } }
    for (ow, oh) in [(45, 30), (30, 60), (60, 45), (180, 60)] {
        let out = resize(ramp, w, h, channels: 1, to: ow, oh)
        let s = Double(w) / Double(ow)
        let support = max(s, 1)
        var worst = 0.0
        for y in 0..<oh {
            for x in 0..<ow {
                let centre = (Double(x) + 0.5) * s - 0.5
                guard centre - support >= 0, centre + support <= Double(w - 1) else { continue }   // the borders clip
                worst = max(worst, abs(Double(out[y * ow + x]) - (2 * centre + 10)))
            }
        }
        #expect(worst <= 0.5 + 1e-9, "\(ow)×\(oh): worst \(worst)")
    }
}

/// PNG data under a JPEG name is decoded: a PNG of each kind the encoder writes (every row filter), read back exactly
/// (PNG is lossless), then resized as a JPEG's pixels would be; a cut one is reported truncated.
@Test func aPNGUnderAJPEGNameIsDecodedExactly() throws {
    let (w, h) = (23, 17)
    let rgb = syntheticImage(width: w, height: h, seed: 3)
    for channels in [1, 3, 4] {
        var pixels = [UInt8](repeating: 128, count: w * h * channels)       // alpha 128 where there is one
        for i in 0..<(w * h) {
            if channels == 1 { pixels[i] = rgb[3 * i + 1]; continue }
            for c in 0..<3 { pixels[channels * i + c] = rgb[3 * i + c] }
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        #expect(easgd_png_encode(pixels, Int32(w), Int32(h), Int32(channels), &out, &size) == 0)
        let png = Array(UnsafeBufferPointer(start: out, count: Int(size)))
        free(out)
        // At smaller side 17 (no resize), the stored CHW bytes are the pixels' RGB (grey replicated, alpha dropped).
        let r = ImageNetImport.prepare(png, shortSide: h)
        #expect(r.problem == "png" && r.width == w && r.height == h)
        var expected = [UInt8](repeating: 0, count: 3 * w * h)
        for i in 0..<(w * h) {
            for c in 0..<3 { expected[c * w * h + i] = channels == 1 ? pixels[i] : pixels[channels * i + c] }
        }
        #expect(r.pixels == expected, "\(channels) channels")
        let cut = ImageNetImport.prepare(Array(png.prefix(png.count - 20)), shortSide: h)
        #expect(cut.dropped && cut.problem == "dropped: PNG data, truncated", "\(cut.problem ?? "")")
    }
}

/// A source tree in ILSVRC-2012's layout: `classes` classes of `perClass` training and 2 validation JPEGs each,
/// one greyscale and (in class 0) one CMYK; in class 1 a PNG signature before JPEG data (a corrupt PNG under a
/// .JPEG name), in class 2 a truncated JPEG.
func makeSource(classes: Int = 3, perClass: Int = 6, flatVal: Bool = false) throws -> String {
    let root = try temporaryDirectory("imagenet-src")
    let fm = FileManager.default
    var valLines: [String] = []
    for c in 0..<classes {
        let wnid = String(format: "n%08d", 1000 + c)
        for (split, count) in [("train", perClass), ("val", 2)] {
            let dir = flatVal && split == "val" ? "\(root)/val" : "\(root)/\(split)/\(wnid)"
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<count {
                let (w, h) = (40 + 7 * i + 3 * c, 36 + 5 * ((i + c) % 4))
                let rgb = syntheticImage(width: w, height: h, seed: 10 * c + i)
                var bytes: [UInt8]
                if i == 1 {
                    bytes = try jpeg((0..<(w * h)).map { rgb[3 * $0] }, width: w, height: h, components: 1)
                } else if i == 2 && c == 0 && split == "train" {
                    bytes = try jpeg((0..<(w * h * 4)).map { UInt8(truncatingIfNeeded: $0 * 13) }, width: w, height: h, components: 4)
                } else {
                    bytes = try jpeg(rgb, width: w, height: h, components: 3)
                }
                if i == 3 && c == 1 && split == "train" { bytes = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + bytes }
                if i == 4 && c == 2 && split == "train" { bytes = Array(bytes.prefix(bytes.count / 2)) }
                let name = split == "val" ? String(format: "ILSVRC2012_val_%08d.JPEG", 2 * c + i + 1) : "\(wnid)_\(i).JPEG"
                write(bytes, "\(dir)/\(name)")
                if split == "val" { valLines.append("\(name) \(c)") }
            }
        }
    }
    if flatVal { try valLines.joined(separator: "\n").write(toFile: "\(root)/val.txt", atomically: true, encoding: .utf8) }
    return root
}

func importStore(_ source: String, out: String, shortSide: Int = 32, shardFiles: Int = 4, valLabels: String? = nil,
                 threads: Int = 2) throws -> ImageNetImport.Report {
    var settings = ImageNetImport.Settings(source: source, out: out)
    settings.shortSide = shortSide
    settings.shardFiles = shardFiles
    settings.valLabels = valLabels
    settings.threads = threads
    return try ImageNetImport.run(settings) { _ in }
}

@Test func theImportKeepsEveryUsableImageAndReportsTheRest() throws {
    let source = try makeSource()
    let out = try temporaryDirectory("imagenet-store")
    defer { try? FileManager.default.removeItem(atPath: source); try? FileManager.default.removeItem(atPath: out) }
    let report = try importStore(source, out: out)
    let m = report.manifest
    #expect(m.classes == ["n00001000", "n00001001", "n00001002"])
    #expect(m.split("train")?.sourceFiles == 18 && m.split("train")?.images == 16)   // the corrupt PNG and the truncated file left out
    #expect(m.split("val")?.sourceFiles == 6 && m.split("val")?.images == 6)
    #expect(m.problems.dropped == 2 && m.problems.cmyk == 1 && m.problems.greyscale == 3 + 3)
    let problems = try String(contentsOfFile: out + "/problems.tsv", encoding: .utf8)
    #expect(problems.contains("train/n00001001/n00001001_3.JPEG\tdropped: PNG data, truncated\ta chunk runs past the end"))
    #expect(problems.contains("train/n00001002/n00001002_4.JPEG\tdropped: truncated\tPremature end of JPEG file"))
    #expect(problems.contains("train/n00001000/n00001000_2.JPEG\tcmyk"))
    #expect(m.split("train")?.shards.count == 5)        // 18 files, 4 per shard

    let split = try DataSource.load(out)
    #expect(split.train.count == 16 && split.test.count == 6 && split.train.classes == 3)
    // Labels in the sorted files' order, the dropped ones skipped: class 0 has 6, class 1 has 5, class 2 has 5.
    #expect(split.train.labels == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    #expect(split.test.labels == [0, 0, 1, 1, 2, 2])
    // Every image has smaller side 32, and the store holds what the import's decode-and-resize gives for each file
    // (the first training image here; that decode and resize are checked against Pillow in the Python test).
    for i in 0..<split.train.count {
        let (_, h, w) = split.train.image(i)
        #expect(min(h, w) == 32)
    }
    let first = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(source)/train/n00001000/n00001000_0.JPEG")))
    let prepared = ImageNetImport.prepare(first, shortSide: 32)
    let (p, h, w) = split.train.image(0)
    #expect(h == prepared.height && w == prepared.width && Array(UnsafeBufferPointer(start: p, count: 3 * h * w)) == prepared.pixels)
    // The mean is the training pixels' own.
    var sums = [Double](repeating: 0, count: 3), n = 0.0
    for i in 0..<split.train.count {
        let (p, h, w) = split.train.image(i)
        for c in 0..<3 { for k in 0..<(h * w) { sums[c] += Double(p[c * h * w + k]) } }
        n += Double(h * w)
    }
    for c in 0..<3 { #expect(abs(m.channelMean[c] - sums[c] / n / 255) < 1e-12) }
    let verified = try ImageStore.verify(out)
    #expect(verified.bad.isEmpty && verified.shards == 5 + 2)
}

@Test func aFlatValidationDirectoryTakesItsLabelsFromAFile() throws {
    let source = try makeSource(flatVal: true)
    let out = try temporaryDirectory("imagenet-flat")
    defer { try? FileManager.default.removeItem(atPath: source); try? FileManager.default.removeItem(atPath: out) }
    expectDataError("give their labels with --val-labels") { _ = try importStore(source, out: out) }
    // Caffe's val.txt: index labels; Kaggle's CSV: a header, then the WordNet id first in the second field.
    let report = try importStore(source, out: out, valLabels: "\(source)/val.txt")
    #expect(try DataSource.load(out).test.labels == [0, 0, 1, 1, 2, 2])
    #expect(report.manifest.split("val")?.images == 6)
    var csv = "ImageId,PredictionString\n"
    for c in 0..<3 {
        for i in 0..<2 { csv += String(format: "ILSVRC2012_val_%08d,n%08d 1 2 3 4\n", 2 * c + i + 1, 1000 + (2 - c)) }
    }
    try csv.write(toFile: "\(source)/LOC_val_solution.csv", atomically: true, encoding: .utf8)
    let out2 = try temporaryDirectory("imagenet-flat2")
    defer { try? FileManager.default.removeItem(atPath: out2) }
    _ = try importStore(source, out: out2, valLabels: "\(source)/LOC_val_solution.csv")
    #expect(try DataSource.load(out2).test.labels == [2, 2, 1, 1, 0, 0])
}

@Test func anInterruptedImportResumesAtItsFirstUnfinishedShardAndEndsTheSame() throws {
    let source = try makeSource()
    let out = try temporaryDirectory("imagenet-resume"), again = try temporaryDirectory("imagenet-once")
    defer { for d in [source, out, again] { try? FileManager.default.removeItem(atPath: d) } }
    let once = try importStore(source, out: again, threads: 1)
    _ = try importStore(source, out: out)
    // As if stopped while writing: the manifest not yet written, two shards unfinished (one without its index, one
    // with a temporary file beside it).
    let fm = FileManager.default
    try fm.removeItem(atPath: out + "/manifest.json")
    try fm.removeItem(atPath: out + "/train/shard-00002.index")
    try fm.removeItem(atPath: out + "/val/shard-00001.index")
    write([1, 2, 3], out + "/train/shard-00002.pixels.tmp-1")
    expectDataError("an unfinished image store") { _ = try DataSource.load(out) }
    let resumed = try importStore(source, out: out)
    #expect(resumed.writtenShards == 2 && resumed.resumedShards == 5)
    #expect(!resumed.alreadyFinished)
    let finished = try importStore(source, out: out)
    #expect(finished.alreadyFinished && finished.writtenShards == 0 && finished.resumedShards == 7)
    // The same store as one uninterrupted import on one thread: shards, checksums, means.
    let a = resumed.manifest, b = once.manifest
    #expect(a.splits.map { $0.shards.map(\.crc32) } == b.splits.map { $0.shards.map(\.crc32) })
    #expect(a.channelMean == b.channelMean && a.problems.dropped == b.problems.dropped)
    // A damaged shard is found by verify.
    let path = out + "/train/shard-00001.pixels"
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[7] ^= 1
    write(bytes, path)
    let bad = try ImageStore.verify(out).bad
    #expect(bad.count == 1 && bad[0].contains("shard-00001.pixels: CRC-32"))
    // A truncated one is refused when loading.
    write(Array(bytes.prefix(10)), path)
    expectDataError("truncated or replaced") { _ = try DataSource.load(out) }
}

@Test func theBatchStreamCropsInsideEachStoredImageAndIsDeterministicBySeed() throws {
    let source = try makeSource()
    let out = try temporaryDirectory("imagenet-crops")
    defer { try? FileManager.default.removeItem(atPath: source); try? FileManager.default.removeItem(atPath: out) }
    _ = try importStore(source, out: out, shortSide: 20)
    let split = try DataSource.load(out)
    let input = Shape(channels: 3, height: 16, width: 16)
    let preprocessing = try Preprocessing(train: split.train, input: input)
    #expect(preprocessing.crops && preprocessing.meanFromData)
    #expect(split.train.largest.width > 20)            // the images differ in size
    func batches(seed: UInt64) throws -> [[Float]] {
        var stream = try BatchStream(data: split.train, preprocessing: preprocessing, batchSize: 5, seed: seed)
        let images = FlatBuffer<Float>(count: 5 * input.count)
        var labels = [Int32](repeating: 0, count: 5)
        return (0..<6).map { _ in
            labels.withUnsafeMutableBufferPointer { stream.next(images: images.base, labels: $0.baseAddress!) }
            return images.array + labels.map(Float.init)
        }
    }
    let one = try batches(seed: 3)
    #expect(try batches(seed: 3) == one)
    #expect(try batches(seed: 4) != one)
    // Each image of a batch is a 16×16 window inside one stored image of its label, flipped or not.
    for batch in one {
        for b in 0..<5 {
            let image = Array(batch[(b * input.count)..<((b + 1) * input.count)]), label = Int32(batch[5 * input.count + b])
            var found = false
            for i in 0..<split.train.count where !found && split.train.labels[i] == label {
                let (p, h, w) = split.train.image(i)
                for dy in 0...(h - 16) where !found { for dx in 0...(w - 16) where !found { for flip in [false, true] where !found {
                    var same = true
                    for c in 0..<3 where same { for y in 0..<16 where same { for x in 0..<16 {
                        let sx = flip ? dx + 15 - x : dx + x
                        let v = Float(p[(c * h + dy + y) * w + sx]) / 255 - preprocessing.mean[c]
                        if abs(v - image[(c * 16 + y) * 16 + x]) > 1e-6 { same = false; break }
                    } } }
                    found = same
                } } }
            }
            #expect(found, "image \(b) is no window of a stored image labelled \(label)")
        }
    }
    // Evaluation takes each test image's centre.
    let (p, h, w) = split.test.image(0)
    var centre = [Float](repeating: 0, count: input.count)
    centre.withUnsafeMutableBufferPointer { preprocessing.writeCentre(split.test, index: 0, into: $0.baseAddress!) }
    let (dy, dx) = ((h - 16) / 2, (w - 16) / 2)
    #expect(abs(centre[5 * 16 + 7] - (Float(p[(dy + 5) * w + dx + 7]) / 255 - preprocessing.mean[0])) < 1e-6)
}

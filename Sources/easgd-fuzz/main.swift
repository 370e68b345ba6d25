// easgd-fuzz: a seeded mutation fuzzer for every reader of outside input: IDX and CIFAR-10 files, checkpoints,
// config.json, the net notation, JPEG files and an image store's index and manifest. Each target starts from valid inputs and mutates them (bit flips, byte
// overwrites with boundary values, truncations, duplications, inserted numbers); a reader must either accept the
// input or throw. A crash kills this process: the input that caused it is left in FUZZ_DIR/crash-TARGET, to be
// kept as a regression test. Usage: easgd-fuzz [SECONDS per target, default 30] [SEED, default 1]

import CImage
import Elastic
import Foundation
import Records
import Training

func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }   // unbuffered: out before a crash
let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 30 : 30
let seed = CommandLine.arguments.count > 2 ? UInt64(CommandLine.arguments[2]) ?? 1 : 1
let root = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-fuzz-\(getpid())").path
try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
var rng = SplitMix64(seed: seed)

@MainActor func mutate(_ input: [UInt8]) -> [UInt8] {
    var b = input
    for _ in 0..<(1 + rng.nextInt(below: 4)) {
        switch rng.nextInt(below: 6) {
        case 0 where !b.isEmpty: b[rng.nextInt(below: b.count)] ^= UInt8(1 << rng.nextInt(below: 8))
        case 1 where !b.isEmpty: b[rng.nextInt(below: b.count)] = [0, 1, 0x7f, 0x80, 0xff][rng.nextInt(below: 5)]
        case 2 where !b.isEmpty: b.removeLast(rng.nextInt(below: b.count + 1))
        case 3 where b.count >= 4:
            let at = rng.nextInt(below: b.count - 3)
            for k in 0..<4 { b[at + k] = 0xff }
        case 4 where !b.isEmpty:
            let at = rng.nextInt(below: b.count), n = min(b.count - at, 1 + rng.nextInt(below: 64))
            b.insert(contentsOf: b[at..<(at + n)], at: at)
        default:
            let numbers = ["0", "-1", "1e308", "-0", "nan", "9223372036854775807", "4294967295", "\"\"", "null", "[]", "{}"]
            b.insert(contentsOf: Array(numbers[rng.nextInt(below: numbers.count)].utf8), at: b.isEmpty ? 0 : rng.nextInt(below: b.count))
        }
    }
    return b
}

/// Runs `body` on mutations of `seeds` for `seconds`; returns (accepted, refused).
@MainActor func fuzz(_ name: String, seeds: [[UInt8]], write: ([UInt8]) throws -> Void, body: () throws -> Void) throws -> (Int, Int) {
    let crash = "\(root)/crash-\(name)"
    var accepted = 0, refused = 0
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        let input = mutate(seeds[rng.nextInt(below: seeds.count)])
        FileManager.default.createFile(atPath: crash, contents: Data(input))       // stays if the reader crashes
        try write(input)
        do { try body(); accepted += 1 } catch { refused += 1 }
    }
    try? FileManager.default.removeItem(atPath: crash)
    say("\(name): \(accepted + refused) inputs, \(accepted) accepted, \(refused) refused, no crash")
    return (accepted, refused)
}

func idx(_ dims: [UInt32], payload: Int) -> [UInt8] {
    var b: [UInt8] = [0, 0, 8, UInt8(dims.count)]
    for d in dims { b += [UInt8(d >> 24), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
    return b + (0..<payload).map { UInt8(truncatingIfNeeded: $0 % 10) }
}

// IDX: images and labels of a small set; the mutated file is the training images.
let idxDir = "\(root)/idx"
try FileManager.default.createDirectory(atPath: idxDir, withIntermediateDirectories: true)
let images = idx([4, 28, 28], payload: 4 * 784), labels = idx([4], payload: 4)
for (name, bytes) in [("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels), ("train-labels-idx1-ubyte", labels)] {
    FileManager.default.createFile(atPath: "\(idxDir)/\(name)", contents: Data(bytes))
}
_ = try fuzz("idx", seeds: [images, labels], write: { FileManager.default.createFile(atPath: "\(idxDir)/train-images-idx3-ubyte", contents: Data($0)) },
         body: { _ = try DataSource.load(idxDir) })

// CIFAR-10 binary: records of 1 label byte and 3072 pixels.
let cifarDir = "\(root)/cifar"
try FileManager.default.createDirectory(atPath: cifarDir, withIntermediateDirectories: true)
let record = [UInt8(3)] + [UInt8](repeating: 128, count: 3072)
let batch = Array([[UInt8]](repeating: record, count: 3).joined())
for k in 2...5 { FileManager.default.createFile(atPath: "\(cifarDir)/data_batch_\(k).bin", contents: Data(batch)) }
FileManager.default.createFile(atPath: "\(cifarDir)/test_batch.bin", contents: Data(batch))
_ = try fuzz("cifar", seeds: [batch], write: { FileManager.default.createFile(atPath: "\(cifarDir)/data_batch_1.bin", contents: Data($0)) },
         body: { _ = try DataSource.load(cifarDir) })

// A checkpoint as the sequential runs write it.
struct State: Codable { var step: Int; var method: String }
let checkpoint = "\(root)/checkpoint.bin"
let vector = FlatBuffer<Float>(count: 100)
try Checkpoint.write(State(step: 7, method: "msgd"), buffers: [("parameters", vector), ("velocity", vector)], to: checkpoint)
let checkpointSeed = [UInt8](FileManager.default.contents(atPath: checkpoint)!)
_ = try fuzz("checkpoint", seeds: [checkpointSeed], write: { FileManager.default.createFile(atPath: checkpoint, contents: Data($0)) },
         body: { _ = try Checkpoint.read(checkpoint, as: State.self) })

// config.json: today's schema, and the two schemas before it (the pre-redesign fixtures' sequential and
// simulated runs) when the tree is at hand.
let runDir = "\(root)/run"
try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
var settings = RunSettings(method: .msgd, learningRate: 0.01, net: "small", netSpec: "(1,28)C(32,24)P(32,12)C(64,8)P(64,4)D(256,1)S(10,1)",
                           data: "fashion-mnist", batch: 64, seed: 1, budget: Budget(steps: 10))
settings.lrSchedule = LearningRateSchedule(.step(at: [1, 2], factor: 0.1), warmup: 5)
var configSeeds = [[UInt8](try RunFiles.configEncoder.encode(RunConfig(settings: settings, runID: "fuzz")))]
for legacy in ["sequential", "simulated"] {
    if let data = FileManager.default.contents(atPath: "Tests/Fixtures/pre-redesign/\(legacy)/config.json") { configSeeds.append([UInt8](data)) }
}
_ = try fuzz("config", seeds: configSeeds, write: { FileManager.default.createFile(atPath: RunFiles.config(runDir), contents: Data($0)) },
         body: { _ = try RunFiles.readSettings(runDir) })

// The net notation (parse, then the allocation-free description and the memory estimate).
let specs = ["(3,28)C(64,24)P(64,12)C(128,8)P(128,4)C(64,2)D(256,1)S(10,1)", "(1,28)C(32,24)P(32,12)D(256,1)S(10,1)",
             "(3,221)C(96,108)P(96,36)C(256,32)P(256,16)C(384,14)C(384,13)C(256,12)P(256,6)D(4096,1)D(4096,1)S(1000,1)"].map { Array($0.utf8) }
var text = ""
_ = try fuzz("netspec", seeds: specs, write: { text = String(decoding: $0, as: UTF8.self) }, body: {
    let spec = try NetSpec(parsing: text)
    _ = MemoryEstimate.training(spec, replicas: 2, batch: 128, evaluators: 2, vectors: 8)
    _ = Network<Float>.layers(spec).reduce(0) { $0 &+ $1.forwardFlopsPerImage }
})
// JPEG and PNG bytes (libjpeg-turbo and the PNG reader, through the import's decode and resize): a file is used or
// dropped with a reason.
var jpegSeeds: [[UInt8]] = []
for (w, h, components) in [(40, 30, 3), (17, 50, 1), (24, 24, 4)] {
    let pixels = (0..<(w * h * components)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    var out: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    guard easgd_jpeg_encode(pixels, Int32(w), Int32(h), Int32(components), 85, &out, &size) == 0, let out else { fatalError("encoder") }
    jpegSeeds.append(Array(UnsafeBufferPointer(start: out, count: Int(size))))
    easgd_jpeg_free(out)
}
do {
    let pixels = (0..<(21 * 13 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 29) }
    var out: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    guard easgd_png_encode(pixels, 21, 13, 3, &out, &size) == 0, let out else { fatalError("PNG encoder") }
    jpegSeeds.append(Array(UnsafeBufferPointer(start: out, count: Int(size))))
    free(out)
}
var jpegInput: [UInt8] = []
_ = try fuzz("jpeg", seeds: jpegSeeds, write: { jpegInput = $0 }, body: {
    let r = ImageNetImport.prepare(jpegInput, shortSide: 16, maxPixels: 1 << 20)
    if r.dropped { throw DataError(r.problem ?? "dropped") }
})

// An image store's shard index and manifest: a store made from those JPEGs, then either file mutated; loading
// must refuse it or give images whose every byte can be read.
let storeSource = "\(root)/imagenet", store = "\(root)/store"
for (split, wnid) in [("train", "n0"), ("train", "n1"), ("val", "n0"), ("val", "n1")] {
    try FileManager.default.createDirectory(atPath: "\(storeSource)/\(split)/\(wnid)", withIntermediateDirectories: true)
    for (k, bytes) in jpegSeeds.enumerated() {
        FileManager.default.createFile(atPath: "\(storeSource)/\(split)/\(wnid)/\(k).JPEG", contents: Data(bytes))
    }
}
var importSettings = ImageNetImport.Settings(source: storeSource, out: store)
importSettings.shortSide = 16
_ = try ImageNetImport.run(importSettings) { _ in }
func touchEveryImage() throws {
    let split = try DataSource.load(store)
    var sum = 0
    for data in [split.train, split.test] {
        for i in 0..<data.count {
            let (p, h, w) = data.image(i)
            sum &+= Int(p[0]) &+ Int(p[3 * h * w - 1])
        }
    }
    if sum == -1 { say("") }
}
for file in ["train/shard-00000.index", "manifest.json"] {
    let path = "\(store)/\(file)"
    let original = [UInt8](FileManager.default.contents(atPath: path)!)
    _ = try fuzz("store-\(file.hasSuffix("index") ? "index" : "manifest")", seeds: [original],
                 write: { FileManager.default.createFile(atPath: path, contents: Data($0)) }, body: touchEveryImage)
    FileManager.default.createFile(atPath: path, contents: Data(original))
}
try? FileManager.default.removeItem(atPath: root)

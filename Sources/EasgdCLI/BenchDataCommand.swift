// easgd bench data STORE: how fast training reads an image store (crops, flips, the mean subtracted), to set beside
// how fast the net consumes images (easgd bench train).

import Analysis
import ArgumentParser
import Elastic
import Foundation
import Records
import Training

struct BenchDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Time the batches training draws from a data set (an image store, CIFAR-10, IDX).",
        discussion: """
            Draws --batches batches of --batch images for the net's input (random crops and flips, the mean \
            subtracted, as training does) after one batch of warm-up, on --threads threads, and prints images/s \
            (median of --repeats passes); a first pass over a store not in the page cache reads the disk. Example:
              easgd bench data /data/imagenet-256 --net imagenet --batch 128
            """
    )

    @Argument(help: ArgumentHelp("An image store, a CIFAR-10 or IDX directory, or fashion-mnist.", valueName: "data")) var data: String
    @Option(help: "cifar, small, imagenet or a notation string (its input size is the crop).") var net = "imagenet"
    @Option(help: "Images per batch.") var batch = 128
    @Option(help: "Batches per pass.") var batches = 20
    @Option(help: "Passes; the median is reported.") var repeats = 3
    @Option(help: "Threads writing a batch's images.") var threads = 1

    func validate() throws {
        try checkLimit("--batch", batch, Limits.batch)
        try checkLimit("--batches", batches, 1...100_000)
        try checkLimit("--repeats", repeats, 1...1000)
        try checkLimit("--threads", threads, 1...256)
    }

    func run() throws {
        let spec = try NetSpec(parsing: net)
        let split = try DataSource.load(data)
        let preprocessing = try Preprocessing(train: split.train, input: spec.input)
        ComputeThreads.set(threads)
        var stream = try BatchStream(data: split.train, preprocessing: preprocessing, batchSize: batch, seed: 1)
        try MemoryEstimate.check(batch * spec.input.count * 4, for: "a batch of \(batch) images")
        let images = FlatBuffer<Float>(count: batch * spec.input.count)
        var labels = [Int32](repeating: 0, count: batch)
        labels.withUnsafeMutableBufferPointer { stream.next(images: images.base, labels: $0.baseAddress!) }
        var rates: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<batches {
                labels.withUnsafeMutableBufferPointer { stream.next(images: images.base, labels: $0.baseAddress!) }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(batches * batch) / seconds)
        }
        let median = rates.sorted()[rates.count / 2]
        print(String(format: "%@: %d train images (%@), crops %d×%d for %@; %d thread%@: %.0f images/s (median of %d passes of %d batches of %d)",
                     split.source, split.train.count, split.format, spec.input.height, spec.input.width, net, threads,
                     threads == 1 ? "" : "s", median, repeats, batches, batch))
    }
}

// easgd bench train: images per second of a training step (forward + backward + update) on synthetic
// data, per-layer timing, achieved GFLOP/s, peak memory; optionally the PyTorch peer in the same run.

import Analysis
import Elastic
import ArgumentParser
import Foundation
import Training

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time training steps of a CNN (forward + backward + MSGD update) and compare with PyTorch.",
        discussion: """
            Synthetic images (random bytes, stored 4 pixels larger than the net input so the crop path runs) go \
            through the same data path, network and Nesterov update as `easgd train`. Prints img/s (median over \
            --repeats blocks of --steps steps), time per layer, the FLOP count per image and the achieved GFLOP/s, \
            the single-thread sgemm rate of OpenBLAS and oneDNN measured in the same run, and the peak resident \
            memory. Each convolution takes its default path: Winograd F(4×4, 5×5) where it fits and pays (5×5, \
            stride 1, output sides multiples of 4, at least 16 input channels), else oneDNN's kernels (AVX2 or \
            AVX-512); --convolution (or EASGD_CONVOLUTION) asks every layer for winograd, onednn or im2col (one \
            sgemm per pass), a layer that cannot take it falling back. GFLOP/s count the direct convolution's \
            FLOPs on every path; with Winograd layers the products' own count and rate are printed beside them. \
            With --peer, runs benchmarks/peers/torch_cnn.py with the same net, batch and thread count and prints \
            both rates and their ratio:
              easgd bench train --net cifar --batch 128 --threads 2 \\
                --peer benchmarks/peers/torch_cnn.py
            With --scaling (and --threads above 1), a second network on 1 thread is timed in blocks alternating             with the first's, and the ratio of each pair is reported (its median and range): the machine's noise             then moves both sides of a ratio together.
            """
    )

    @Option(help: "cifar, small, imagenet or a notation string.") var net = "cifar"
    @Option(help: "Minibatch size.") var batch = TrainingDefaults.batch
    @Option(help: "Threads for the matrix products and element-wise loops.") var threads = 1
    @Option(help: "Steps per timed block.") var steps = 10
    @Option(help: "Timed blocks; the median is reported.") var repeats = 5
    @Option(help: "Path of the PyTorch peer script to run with the same settings.") var peer: String?
    @Option(help: "Python interpreter for --peer.") var python = "python3"
    @Option(help: "Every convolution's path: winograd, onednn or im2col (default: EASGD_CONVOLUTION, else each layer's own).")
    var convolution: ConvolutionPath?
    @Flag(help: "Also time 1 thread in blocks alternating with --threads and report the paired speed-ups.")
    var scaling = false

    func validate() throws {
        try checkLimit("--batch", batch, Limits.batch)
        try checkLimit("--threads", threads, Limits.threads)
        guard steps >= 1, repeats >= 1 else { throw ValidationError("--steps and --repeats must be positive") }
        if scaling && threads < 2 { throw ValidationError("--scaling needs --threads 2 or more") }
        if let peer, !FileManager.default.fileExists(atPath: peer) { throw ValidationError("--peer: \(peer) not found") }
    }

    func run() throws {
        let benchmark = TrainBenchmark(net: net, batch: batch, threads: threads, steps: steps, repeats: repeats, peer: peer, python: python,
                                       convolution: convolution, scaling: scaling)
        for line in try benchmark.run() { print(line) }
    }
}

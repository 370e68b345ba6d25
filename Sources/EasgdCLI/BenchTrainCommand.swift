// easgd bench train: images per second of a training step (forward + backward + update) on synthetic
// data, per-layer timing, achieved GFLOP/s, peak memory; optionally the PyTorch peer in the same run.

import Analysis
import ArgumentParser
import Records
import Elastic
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
            and the peak resident memory. With --peer, runs benchmarks/peers/torch_cnn.py with the same net, \
            batch and thread count and prints both rates and their ratio:
              easgd bench train --net cifar --batch 128 --threads 2 --peer benchmarks/peers/torch_cnn.py
            """
    )

    @Option(help: "cifar, small, imagenet or a notation string.") var net = "cifar"
    @Option(help: "Minibatch size.") var batch = 128
    @Option(help: "Threads for the matrix products and element-wise loops.") var threads = 1
    @Option(help: "Steps per timed block.") var steps = 10
    @Option(help: "Timed blocks; the median is reported.") var repeats = 5
    @Option(help: "Path of the PyTorch peer script to run with the same settings.") var peer: String?
    @Option(help: "Python interpreter for --peer.") var python = "python3"

    func validate() throws {
        guard batch >= 1, batch <= 4096 else { throw ValidationError("--batch must be between 1 and 4096") }
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        guard steps >= 1, repeats >= 1 else { throw ValidationError("--steps and --repeats must be positive") }
        if let peer, !FileManager.default.fileExists(atPath: peer) { throw ValidationError("--peer: \(peer) not found") }
    }

    func run() throws {
        ComputeThreads.set(threads)
        let spec = try NetSpec(parsing: net)
        let input = spec.input
        let stored = Shape(channels: input.channels, height: input.height + 4, width: input.width + 4)
        var rng = SplitMix64(seed: 1)
        let images = max(batch * 4, 512)
        let dataset = Dataset(name: "synthetic", shape: stored,
                              pixels: (0..<(images * stored.count)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                              labels: (0..<images).map { _ in UInt8(rng.nextInt(below: spec.classes)) },
                              classes: spec.classes)
        let preprocessing = try Preprocessing(train: dataset, input: input)
        let stream = try BatchStream(data: dataset, preprocessing: preprocessing, batchSize: batch, seed: 2)
        let replica = Replica(spec: spec, stream: stream, seed: 3)
        let optimizer = SequentialOptimizer(settings: OptimizerSettings(method: .msgd, learningRate: 1e-3), count: replica.parameterCount)
        replica.network.initialize(optimizer.parameters, seed: 4)

        for _ in 0..<2 { _ = optimizer.step(replica) }      // warm-up: scratch allocation, BLAS threads
        var rates: [Double] = []
        var elapsed = 0.0
        replica.network.profiling = true
        replica.network.resetProfile()
        for _ in 0..<repeats {
            let t0 = Date()
            for _ in 0..<steps { _ = optimizer.step(replica) }
            let seconds = Date().timeIntervalSince(t0)
            elapsed += seconds
            rates.append(Double(steps * batch) / seconds)
        }
        let rate = rates.sorted()[rates.count / 2]
        let net = replica.network
        let totalSteps = Double(steps * repeats)
        let stepSeconds = Double(batch) / rate
        print("net \(spec.text), batch \(batch), \(threads) thread(s), \(grouped(net.parameterCount)) parameters")
        print(String(format: "easgd: %.1f img/s (median of %d blocks of %d steps; range %.1f–%.1f); %.1f ms per step",
                     rate, repeats, steps, rates.min()!, rates.max()!, stepSeconds * 1000))
        let flops = Double(net.trainingFlopsPerImage)
        print(String(format: "FLOP per image (training step): %.2f M; achieved %.1f GFLOP/s", flops / 1e6, flops * rate / 1e9))
        print("time per step by layer (ms):   forward  backward")
        var layerTotal = 0.0
        for (i, layer) in net.layers.enumerated() {
            let f = net.forwardSeconds[i] / totalSteps * 1000, b = net.backwardSeconds[i] / totalSteps * 1000
            layerTotal += f + b
            let name = layer.kind.padding(toLength: 22, withPad: " ", startingAt: 0)
            print(String(format: "  %2d ", i + 1) + name + String(format: " %8.2f  %8.2f", f, b))
        }
        let meanStep = elapsed / totalSteps * 1000
        print(String(format: "  layers %.1f ms of a mean step of %.1f ms; data, loss and update %.1f ms",
                     layerTotal, meanStep, meanStep - layerTotal))
        print(String(format: "peak resident memory: %.0f MiB", peakResidentMiB()))

        guard let peer else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, peer, "--spec", spec.text, "--batch", "\(batch)", "--threads", "\(threads)",
                             "--steps", "\(steps)", "--repeats", "\(repeats)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let peerRate = (object["images_per_second"] as? NSNumber)?.doubleValue, peerRate.isFinite, peerRate > 0 else {
            throw ValidationError("the peer \(peer) failed (exit \(process.terminationStatus)); is PyTorch installed? pip install torch==2.13.0+cpu")
        }
        let version = object["torch"] as? String ?? "?"
        print(String(format: "pytorch %@: %.1f img/s (same net, batch, threads; SGD with Nesterov momentum)", version, peerRate))
        print(String(format: "ratio easgd / pytorch: %.2f", rate / peerRate))
    }
}

/// Peak resident set size of this process (getrusage; Linux reports KiB).
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

// easgd bench engine: throughput of the threads backend on the paper's CIFAR net, and the share of worker time
// spent in exchanges with the master.

import Analysis
import ArgumentParser
import Records
import Elastic
import Engine
import Foundation
import Training

struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Time the threads backend: one worker alone, p workers together, and the exchange share at τ = 1 and τ = 10.",
        discussion: """
            Synthetic images through the same replicas as `easgd train`, one compute thread per worker, EASGD \
            (β = 0.9). For each configuration it prints the aggregate img/s and, per worker, the share of its time \
            inside the master's critical sections (waiting for the lock plus the exchange itself).
              easgd bench engine --net cifar --batch 128 --workers 1,2,4 --steps 20
            """
    )

    @Option(help: "cifar, small or a notation string.") var net = "cifar"
    @Option(help: "Minibatch size per worker.") var batch = TrainingDefaults.batch
    @Option(help: "Worker counts to time, comma-separated.") var workers = WorkerList(argument: "1,2,4")!
    @Option(help: "Steps per worker in each timed run.") var steps = 20

    func validate() throws {
        try checkLimit("--batch", batch, Limits.batch)
        guard steps >= 2, steps <= 100_000 else { throw ValidationError("--steps must be between 2 and 100000") }
        for p in workers.counts { guard Limits.trainingWorkers.contains(p) else { throw ValidationError("--workers values must be between 1 and 64") } }
    }

    func run() throws {
        ComputeThreads.set(1)
        let spec = try NetSpec(parsing: net)
        let stored = Shape(channels: spec.input.channels, height: spec.input.height + 4, width: spec.input.width + 4)
        var rng = SplitMix64(seed: 1)
        let images = max(batch * 4, 512)
        let dataset = Dataset(name: "synthetic", shape: stored,
                              pixels: (0..<(images * stored.count)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                              labels: (0..<images).map { _ in UInt8(rng.nextInt(below: min(spec.classes, 256))) }, classes: spec.classes)
        let preprocessing = try Preprocessing(train: dataset, input: spec.input)
        print("net \(spec.text), batch \(batch) per worker, one compute thread per worker, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("workers  tau  img/s (all workers)  exchange share of worker time (mean, max)")
        for p in workers.counts {
            for tau in [1, 10] {
                let replicas = try (0..<p).map { i in
                    Replica(spec: spec, stream: try BatchStream(data: dataset, preprocessing: preprocessing, batchSize: batch, seed: UInt64(i + 1)),
                            seed: UInt64(i + 1))
                }
                let initial = FlatBuffer<Float>(count: replicas[0].parameterCount)
                replicas[0].network.initialize(initial, seed: 3)
                let engine = ParallelEngine<Float>(settings: EngineSettings(method: .easgd, workers: p, learningRate: 1e-3, tau: tau, weightDecay: 0),
                                                   objectives: replicas, initial: initial.array)
                let threads = ThreadsBackend(engine: engine)
                threads.run(stepsPerWorker: 2)                         // warm-up: scratch space, caches
                let t0 = Date()
                let timed = ThreadsBackend(engine: engine)
                timed.run(stepsPerWorker: steps)
                let seconds = Date().timeIntervalSince(t0)
                let shares = timed.communicationSeconds.map { $0 / seconds }
                print(String(format: "%7d  %3d  %19.1f  %.2f %%, %.2f %%", p, tau, Double(p * steps * batch) / seconds,
                             100 * shares.reduce(0, +) / Double(p), 100 * (shares.max() ?? 0)))
            }
        }
        print(String(format: "peak resident memory: %.0f MiB", peakResidentMiB()))
    }
}

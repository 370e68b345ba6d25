// `easgd bench train` and `easgd bench map`: what they measure, as lines to print. Training steps of a CNN on
// synthetic data (img/s as the median of timed blocks, time per layer, GFLOP/s, peak memory) and optionally the
// PyTorch peer in the same run; a stability map against dgeev on the full round map.

import Dynamics
import Elastic
import Foundation
import Records
import Training

public struct TrainBenchmark {
    public var net: String
    public var batch: Int
    public var threads: Int
    public var steps: Int
    public var repeats: Int
    /// The PyTorch peer script and its interpreter.
    public var peer: String?
    public var python: String
    /// Every convolution's path; nil leaves each layer on its default (`ConvolutionPath.preferred`).
    public var convolution: ConvolutionPath?
    /// With more than one thread: also time a 1-thread network in blocks alternating with the T-thread one's,
    /// so that both see the same machine, and report the ratio of each pair.
    public var scaling: Bool

    public init(net: String, batch: Int, threads: Int, steps: Int, repeats: Int, peer: String?, python: String,
                convolution: ConvolutionPath? = nil, scaling: Bool = false) {
        self.convolution = convolution
        self.scaling = scaling
        self.net = net
        self.batch = batch
        self.threads = threads
        self.steps = steps
        self.repeats = repeats
        self.peer = peer
        self.python = python
    }

    /// Runs the benchmark (and the peer) and returns the report's lines.
    public func run() throws -> [String] {
        var lines: [String] = []
        func out(_ line: String) { lines.append(line) }
        ComputeThreads.set(threads)
        let spec = try NetSpec(parsing: net)
        let input = spec.input
        let stored = Shape(channels: input.channels, height: input.height + 4, width: input.width + 4)
        var rng = SplitMix64(seed: 1)
        let images = max(batch * 4, 512)
        let dataset = Dataset(name: "synthetic", shape: stored,
                              pixels: (0..<(images * stored.count)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                              labels: (0..<images).map { _ in UInt8(rng.nextInt(below: min(spec.classes, 256))) },
                              classes: spec.classes)
        let preprocessing = try Preprocessing(train: dataset, input: input)
        /// A network on `threads` threads (its convolutions are made for that count), warmed up.
        func trainer() throws -> (Replica, SequentialOptimizer) {
            let stream = try BatchStream(data: dataset, preprocessing: preprocessing, batchSize: batch, seed: 2)
            let replica = Replica(spec: spec, stream: stream, seed: 3)
            let optimizer = SequentialOptimizer(settings: OptimizerSettings(method: .msgd, learningRate: 1e-3), count: replica.parameterCount)
            replica.network.initialize(optimizer.parameters, seed: 4)
            if let convolution {
                for case let conv as Convolution<Float> in replica.network.layers { conv.path = convolution }
            }
            for _ in 0..<2 { _ = optimizer.step(replica) }      // warm-up: scratch allocation, BLAS threads
            return (replica, optimizer)
        }
        /// Seconds of one block of `steps` steps.
        func block(_ replica: Replica, _ optimizer: SequentialOptimizer) -> Double {
            let t0 = Date()
            for _ in 0..<steps { _ = optimizer.step(replica) }
            return Date().timeIntervalSince(t0)
        }
        let (replica, optimizer) = try trainer()

        var rates: [Double] = []
        var elapsed = 0.0
        replica.network.profiling = true
        replica.network.resetProfile()
        for _ in 0..<repeats {
            let seconds = block(replica, optimizer)
            elapsed += seconds
            rates.append(Double(steps * batch) / seconds)
        }
        replica.network.profiling = false
        let rate = median(rates)
        let net = replica.network
        let totalSteps = Double(steps * repeats)
        let stepSeconds = Double(batch) / rate
        out("net \(spec.text), batch \(batch), \(threads) thread(s), \(grouped(net.parameterCount)) parameters")
        out(String(format: "easgd: %.1f img/s (median of %d blocks of %d steps; range %.1f–%.1f); %.1f ms per step",
                     rate, repeats, steps, rates.min()!, rates.max()!, stepSeconds * 1000))
        let convolutions = net.layers.compactMap { $0 as? Convolution<Float> }
        if let first = convolutions.first {
            let names = Set(convolutions.map(\.implementation))
            let library = convolutions.allSatisfy { $0.path == .im2col } ? "im2col" : "oneDNN \(ConvolutionPath.oneDNNVersion)"
            out("convolutions: \(library): " + (names.count == 1 ? first.implementation
                : convolutions.enumerated().map { "conv \($0.offset + 1) \($0.element.implementation)" }.joined(separator: "; ")))
            for (k, conv) in convolutions.enumerated() {
                if let reason = conv.fallbackReason { out("conv \(k + 1) fell back to \(conv.path.rawValue): \(reason)") }
            }
        }
        // The FLOPs of the direct convolution, whichever path runs: the rate a direct implementation would need
        // to match this step. A Winograd layer's products do fewer; their own count and rate are printed beside.
        let flops = Double(net.trainingFlopsPerImage), productFlops = Double(net.trainingProductFlopsPerImage)
        let achieved = flops * rate / 1e9
        out(String(format: "FLOP per image (training step, direct convolution): %.2f M; achieved %.1f GFLOP/s", flops / 1e6, achieved)
            + (productFlops < flops
               ? String(format: " (the products as computed, with Winograd's: %.2f M, %.1f GFLOP/s)",
                        productFlops / 1e6, productFlops * rate / 1e9)
               : ""))

        out("time per step by layer (ms):   forward  backward")
        var layerTotal = 0.0
        for (i, layer) in net.layers.enumerated() {
            let f = net.forwardSeconds[i] / totalSteps * 1000, b = net.backwardSeconds[i] / totalSteps * 1000
            layerTotal += f + b
            let name = layer.kind.padding(toLength: 22, withPad: " ", startingAt: 0)
            out(String(format: "  %2d ", i + 1) + name + String(format: " %8.2f  %8.2f", f, b))
        }
        let meanStep = elapsed / totalSteps * 1000
        out(String(format: "  layers %.1f ms of a mean step of %.1f ms; data, loss and update %.1f ms",
                     layerTotal, meanStep, meanStep - layerTotal))
        out(String(format: "peak resident memory: %.0f MiB", peakResidentMiB()))
        // After the peak memory (a second network would inflate it): the two thread counts block by block.
        if scaling && threads > 1 {
            ComputeThreads.set(1)
            let (single, singleOptimizer) = try trainer()
            var one: [Double] = [], many: [Double] = []
            for _ in 0..<repeats {
                ComputeThreads.set(1)
                one.append(block(single, singleOptimizer))
                ComputeThreads.set(threads)
                many.append(block(replica, optimizer))
            }
            let ratios = zip(one, many).map { $0 / $1 }
            out(String(format: "scaling 1 → %d threads, %d pairs of alternating blocks: median %.2f× (range %.2f–%.2f); "
                       + "1 thread %.1f img/s, %d threads %.1f img/s (medians)", threads, repeats, median(ratios),
                       ratios.min()!, ratios.max()!, Double(steps * batch) / median(one), threads,
                       Double(steps * batch) / median(many)))
        }
        // The products' rate on this machine, in the same run (after the peak memory, whose figure its 48 MiB of
        // matrices would inflate): a 2048³ sgemm on one thread, on both libraries.
        let openblas = ProductRate.sgemm(.openblas), onednn = ProductRate.sgemm(.onednn)
        let best = max(openblas, onednn)
        out(String(format: "sgemm 2048³, 1 thread (median of 5): OpenBLAS %.1f GFLOP/s, oneDNN %.1f GFLOP/s; "
                   + "the step reaches %.0f %% of %d × the faster", openblas, onednn,
                   100 * achieved / (best * Double(threads)), threads)
            + (productFlops < flops
               ? String(format: " counting direct FLOPs, %.0f %% counting the products as computed",
                        100 * productFlops * rate / 1e9 / (best * Double(threads)))
               : ""))

        guard let peer else { return lines }
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
            throw OutputError("the peer \(peer) failed (exit \(process.terminationStatus)); is PyTorch installed? pip install torch==2.13.0+cpu")
        }
        let version = object["torch"] as? String ?? "?"
        out(String(format: "pytorch %@: %.1f img/s (same net, batch, threads; SGD with Nesterov momentum)", version, peerRate))
        out(String(format: "ratio easgd / pytorch: %.2f", rate / peerRate))
        return lines
    }
}

/// The middle value (the upper one of an even count).
private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// Peak resident set size of this process (getrusage; Linux reports KiB).
public func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

public struct MapBenchmark {
    public var method: Algorithm
    public var workers: Int
    public var eta: ClosedRange<Double>
    public var rho: ClosedRange<Double>
    public var gridEta: Int
    public var gridRho: Int
    /// nil: every core.
    public var threads: Int?
    public var repeats: Int
    /// Grid points sampled for the dgeev reference timing.
    public var sample: Int

    public init(method: Algorithm, workers: Int, eta: ClosedRange<Double>, rho: ClosedRange<Double>, gridEta: Int, gridRho: Int,
                threads: Int?, repeats: Int, sample: Int) {
        self.method = method
        self.workers = workers
        self.eta = eta
        self.rho = rho
        self.gridEta = gridEta
        self.gridRho = gridRho
        self.threads = threads
        self.repeats = repeats
        self.sample = sample
    }

    /// Times the map and the reference and returns the report's lines; with `out`, writes PREFIX.bin (the radii as
    /// little-endian float64, row-major) and PREFIX.json for benchmarks/peers/numpy_map.py.
    public func run(out: String?) throws -> [String] {
        var lines: [String] = []
        func say(_ line: String) { lines.append(line) }
        let spec = StabilityMapSpec(method: method, workers: workers, eta: GridAxis(eta, count: gridEta),
                                    second: GridAxis(rho, count: gridRho), secondKind: .rho)
        var times: [Double] = []
        var last: StabilityMap? = nil
        for _ in 0..<repeats {
            let map = try StabilityMap.compute(spec, threads: threads)
            times.append(map.seconds)
            last = map
        }
        let map = last!
        let median = times.sorted()[times.count / 2]
        let points = Double(map.radii.count)

        // Reference: dgeev on the full probed round map, single thread, on an evenly spread sample of the grid.
        let solver = EigenSolver(maxDimension: spec.scheme(eta: 1, second: 1).stateDimension)
        let etas = spec.eta.values, seconds = spec.second.values
        let count = min(sample, map.radii.count)
        let stride = max(1, map.radii.count / count)
        var worst = 0.0
        let start = Date()
        for k in 0..<count {
            let index = k * stride
            let i = index % etas.count, j = index / etas.count
            let reference = try solver.spectralRadius(of: spec.scheme(eta: etas[i], second: seconds[j]).probedRoundMap())
            worst = max(worst, abs(reference - map.radii[index]) / reference)
        }
        let referencePerPoint = Date().timeIntervalSince(start) / Double(count)

        // Where the map's time goes: building the scheme and its cyclic polynomial alone, on the same sample.
        var checksum = 0.0
        let polynomialStart = Date()
        for k in 0..<count {
            let index = k * stride
            checksum += spec.scheme(eta: etas[index % etas.count], second: seconds[index / etas.count]).cyclicPolynomial()[0]
        }
        let polynomialPerPoint = Date().timeIntervalSince(polynomialStart) / Double(count)
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount

        say("\(method.rawValue) p=\(workers) grid \(gridEta)x\(gridRho) threads \(threadCount)")
        say("map: median \(String(format: "%.3f", median)) s over \(repeats) (\(String(format: "%.2f", median / points * 1e6 * Double(threadCount))) us per point per thread; LAPACK solves \(map.lapackSolves), tracked \(map.trackedSolves))")
        say("reference dgeev on the full round map: \(String(format: "%.2f", referencePerPoint * 1e6)) us per point (1 thread, \(count) points), projected \(String(format: "%.1f", referencePerPoint * points / Double(threadCount))) s on \(threadCount) threads")
        say("map cost per point per thread: \(String(format: "%.2f", polynomialPerPoint * 1e6)) us building the scheme and its cyclic polynomial, the rest in root finding (checksum \(String(format: "%.3g", checksum)))")
        say("max relative difference from the reference on the sample: \(String(format: "%.2e", worst))")

        if let out {
            let transaction = OutputTransaction()
            let binary = transaction.stage(out + ".bin")
            let data = map.radii.withUnsafeBufferPointer { Data(buffer: $0) }
            try data.write(to: URL(fileURLWithPath: binary))
            let summary = JSON.object([
                ("method", .string(method.rawValue)), ("workers", .integer(workers)), ("h", .number(1)),
                ("eta", .object([("lo", .number(eta.lowerBound)), ("hi", .number(eta.upperBound)), ("points", .integer(gridEta))])),
                ("rho", .object([("lo", .number(rho.lowerBound)), ("hi", .number(rho.upperBound)), ("points", .integer(gridRho))])),
                ("threads", .integer(threadCount)),
                ("map_seconds_median", .number(median)),
                ("map_seconds", .array(times.map { .number($0) })),
                ("reference_dgeev_us_per_point", .number(referencePerPoint * 1e6)),
            ])
            try transaction.write(try summary.render() + "\n", to: out + ".json")
            try transaction.commit()
        }
        return lines
    }
}

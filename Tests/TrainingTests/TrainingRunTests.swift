// Training runs through the library: ASGD's average is the mean of the iterates, and a run stopped by a
// signal and resumed from its checkpoint ends bit for bit where a straight run ends.
// Serialized: the stop flag is process-wide.
import Elastic
import Foundation
import NumericTesting
import Testing
@testable import Training

/// A small slice of the real Fashion-MNIST, so the runs take a second.
let fashionSlice: DataSplit = {
    let full = try! DataSource.load("fashion-mnist")
    return DataSplit(train: full.train.prefix(3000), test: full.test.prefix(500), source: full.source, format: full.format)
}()

let tinyNet = "(1,28)C(4,24)P(4,12)D(16,1)S(10,1)"

func settings(_ method: Algorithm, steps: Int) -> TrainingSettings {
    TrainingSettings(net: tinyNet, netSpec: tinyNet, data: "fashion-mnist",
                     optimizer: OptimizerSettings(method: method, learningRate: 0.01, momentum: 0.9, movingRate: 0.05),
                     batch: 32, seed: 7, budget: Budget(steps: steps), evalEvery: 10, checkpointEveryMinutes: 60)
}

@Suite(.serialized) struct TrainingRuns {
    /// The element-wise loops split over threads give the same numbers as one thread (each output is computed
    /// by one chunk in the same order); the products are small enough that OpenBLAS stays on one thread.
    @Test func elementwiseThreadsDoNotChangeTheNumbers() throws {
        let net = try Network<Double>("(3,14)C(6,10)P(6,5)C(4,3)D(8,1)S(4,1)", maxBatch: 5)
        let theta = FlatBuffer<Double>(count: net.parameterCount)
        net.initialize(theta, seed: 3)
        var rng = SplitMix64(seed: 4)
        let input = (0..<(5 * 3 * 14 * 14)).map { _ in rng.nextGaussian() }
        let labels: [Int32] = [0, 3, 1, 2, 3]
        func gradient(threads: Int) -> [Double] {
            ComputeThreads.set(threads)
            defer { ComputeThreads.set(1) }
            let g = FlatBuffer<Double>(count: net.parameterCount)
            var drop = SplitMix64(seed: 9)
            _ = labels.withUnsafeBufferPointer {
                net.lossAndGradient(parameters: theta.readOnly, input: input, labels: $0, batch: 5, gradient: g.pointer, rng: &drop)
            }
            return g.array
        }
        let one = gradient(threads: 1), two = gradient(threads: 2), three = gradient(threads: 3)
        for k in one.indices {
            #expect(isClose(one[k], two[k], relative: 1e-14, absolute: 1e-15) && isClose(one[k], three[k], relative: 1e-14, absolute: 1e-15))
        }
    }

    @Test func asgdAverageIsTheMeanOfTheIterates() throws {
        let dir = try temporaryDirectory("asgd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try TrainingRun(settings: settings(.asgd, steps: 1), directory: dir, data: fashionSlice)
        let n = run.optimizer.parameters.count
        var sum = [Double](repeating: 0, count: n)
        for _ in 0..<25 {
            _ = run.optimizer.step(run.replica)
            for k in 0..<n { sum[k] += Double(run.optimizer.parameters[k]) }
        }
        let scale = sum.map { abs($0) / 25 }.max()!
        for k in 0..<n {
            #expect(isClose(Double(run.optimizer.average[k]), sum[k] / 25, relative: 1e-5, absolute: 1e-6 * scale))
        }
        #expect(run.optimizer.model === run.optimizer.average)
    }

    @Test func mvasgdAverageFollowsItsRecursion() throws {
        let dir = try temporaryDirectory("mvasgd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try TrainingRun(settings: settings(.mvasgd, steps: 1), directory: dir, data: fashionSlice)
        var z = run.optimizer.parameters.array.map(Double.init)
        for _ in 0..<10 {
            _ = run.optimizer.step(run.replica)
            for k in z.indices { z[k] += 0.05 * (Double(run.optimizer.parameters[k]) - z[k]) }
        }
        for k in z.indices { #expect(isClose(Double(run.optimizer.average[k]), z[k], relative: 1e-5, absolute: 1e-7)) }
    }

    @Test(arguments: [Algorithm.msgd, .asgd])
    func interruptedAndResumedRunEqualsAStraightRun(method: Algorithm) throws {
        let straightDir = try temporaryDirectory("straight")
        let splitDir = try temporaryDirectory("split")
        defer {
            try? FileManager.default.removeItem(atPath: straightDir)
            try? FileManager.default.removeItem(atPath: splitDir)
        }
        StopSignal.reset()
        let straight = try TrainingRun(settings: settings(method, steps: 45), directory: straightDir, data: fashionSlice)
        #expect(try straight.run() == .completed)

        let first = try TrainingRun(settings: settings(method, steps: 45), directory: splitDir, data: fashionSlice)
        let outcome = try first.run(progress: { if $0.step == 23 { StopSignal.raise(SIGINT) } })
        StopSignal.reset()
        #expect(outcome == .interrupted(signal: SIGINT))
        #expect(first.step == 23)
        let second = try TrainingRun.resume(directory: splitDir, budget: Budget(), data: fashionSlice)
        #expect(second.step == 23)
        #expect(try second.run() == .completed)

        for ((name, a), (_, b)) in zip(straight.optimizer.stateBuffers, second.optimizer.stateBuffers) {
            let same = a.array.map(\.bitPattern) == b.array.map(\.bitPattern)
            #expect(same, "\(name) differs")
        }
        let strip = { (r: MetricRecord) in [Double(r.step), Double(r.samples), r.trainLoss ?? -1, r.testLoss, r.testError] }
        #expect(straight.records.map(strip) == second.records.map(strip))
        #expect(try RunFiles.readMetrics(splitDir).map(strip) == straight.records.map(strip))
        #expect(straight.records.map(\.step) == [0, 10, 20, 30, 40, 45])
    }

    /// A run records its convolutions' paths when it starts and a resumed run computes on them, not on the
    /// defaults of the build that resumes it; a config written before paths were recorded resumes on oneDNN, which
    /// is what every convolution ran on then.
    @Test func aResumedRunKeepsItsConvolutionPaths() throws {
        try #require(ConvolutionPath.forced == nil, "EASGD_CONVOLUTION is set: the defaults are not under test")
        let dir = try temporaryDirectory("paths")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wide = "(1,28)C(16,24)P(16,12)C(8,8)P(8,4)D(16,1)S(10,1)"   // the second convolution takes Winograd
        var s = settings(.msgd, steps: 2)
        (s.net, s.netSpec) = (wide, wide)
        let run = try TrainingRun(settings: s, directory: dir, data: fashionSlice)
        #expect(try run.run() == .completed)
        #expect(try RunFiles.readSettings(dir).convolutions == [.onednn, .winograd])
        func paths(_ run: TrainingRun) -> [ConvolutionPath] {
            run.replica.network.layers.compactMap { ($0 as? Convolution<Float>)?.path }
        }
        #expect(paths(try TrainingRun.resume(directory: dir, budget: Budget(steps: 3), data: fashionSlice)) == [.onednn, .winograd])
        // Rewrite the config as one started elsewhere on oneDNN, then as one from before paths were recorded.
        let path = RunFiles.config(dir)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let recorded = try #require(text.range(of: #""convolutions" : \[[^\]]*\],?"#, options: .regularExpression))
        for replacement in [#""convolutions" : ["onednn", "onednn"],"#, ""] {
            try text.replacingCharacters(in: recorded, with: replacement).write(toFile: path, atomically: true, encoding: .utf8)
            let resumed = try TrainingRun.resume(directory: dir, budget: Budget(steps: 3), data: fashionSlice)
            #expect(paths(resumed) == [.onednn, .onednn], "config with \(replacement.isEmpty ? "no paths" : replacement)")
            #expect(try resumed.run() == .completed)
            #expect(try RunFiles.readSettings(dir).convolutions == [.onednn, .onednn])
        }
    }

    @Test func damagedCheckpointIsRefused() throws {
        let dir = try temporaryDirectory("damaged")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try TrainingRun(settings: settings(.sgd, steps: 3), directory: dir, data: fashionSlice)
        #expect(try run.run() == .completed)
        let path = RunFiles.checkpoint(dir)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let saved = bytes
        bytes[bytes.count / 2] ^= 0x10
        write(bytes, path)
        expectDataError("checksum mismatch") { _ = try TrainingRun.resume(directory: dir, budget: Budget(), data: fashionSlice) }
        write(Array(saved.prefix(saved.count - 3)), path)
        expectDataError("truncated checkpoint") { _ = try TrainingRun.resume(directory: dir, budget: Budget(), data: fashionSlice) }
        write(Array("not a checkpoint at all".utf8), path)
        expectDataError("bad magic") { _ = try TrainingRun.resume(directory: dir, budget: Budget(), data: fashionSlice) }
        write(saved, path)
        let resumed = try TrainingRun.resume(directory: dir, budget: Budget(steps: 4), data: fashionSlice)
        #expect(resumed.step == 3)
        #expect(resumed.optimizer.parameters.array == run.optimizer.parameters.array)
    }

    @Test func divergenceStopsAndKeepsTheLastGoodCheckpoint() throws {
        let dir = try temporaryDirectory("diverge")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = settings(.sgd, steps: 200)
        s.optimizer.learningRate = 1e6
        let run = try TrainingRun(settings: s, directory: dir, data: fashionSlice)
        let outcome = try run.run()
        guard case let .diverged(step, _, lastCheckpointStep) = outcome else {
            Issue.record("expected divergence, got \(outcome)")
            return
        }
        #expect(step < 200 && lastCheckpointStep == 0)
        let (state, buffers) = try Checkpoint.read(RunFiles.checkpoint(dir), as: RunState.self)
        #expect(state.step == 0)
        let finiteParameters = buffers["parameters"]!.allSatisfy { $0.isFinite }
        #expect(finiteParameters)
        let finiteRecords = try RunFiles.readMetrics(dir).allSatisfy { $0.testLoss.isFinite }
        #expect(finiteRecords)
    }
}

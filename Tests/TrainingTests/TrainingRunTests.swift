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

func settings(_ method: Algorithm, steps: Int) -> RunSettings {
    RunSettings(method: method, learningRate: 0.01, momentum: 0.9, movingRate: 0.05, net: tinyNet, netSpec: tinyNet, data: "fashion-mnist",
                batch: 32, seed: 7, budget: Budget(steps: steps), evalEvery: .steps(10), checkpointEveryMinutes: 60)
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

    /// The optimizer's element-wise passes run in blocks on the compute threads: at 1, 2 and 3 threads every
    /// method's state is, bit for bit, the recursion written out here element by element (Float arithmetic in the
    /// same order), on a vector of several blocks with a ragged end.
    @Test(arguments: [Algorithm.msgd, .sgd, .asgd, .mvasgd])
    func optimizerThreadsGiveTheWrittenRecursion(method: Algorithm) throws {
        let n = 3 * 4096 + 123
        var rng = SplitMix64(seed: 11)
        let h = (0..<n).map { _ in 0.5 + rng.nextUniform() }, target = (0..<n).map { _ in rng.nextGaussian() }
        let start = (0..<n).map { _ in Float(rng.nextGaussian()) }
        let (eta, delta, lambda, a): (Float, Float, Float, Float) = (0.05, 0.9, 1e-3, 0.05)
        // The reference: x, v, z after `steps` steps, g = Float(h (y − x*)) at the point y the method evaluates.
        var x = start, v = [Float](repeating: 0, count: n), z = start
        let steps = 4
        for t in 0..<steps {
            for k in 0..<n {
                if method == .msgd {
                    let y = x[k] + delta * v[k]
                    var g = Float(h[k] * (Double(y) - target[k]))
                    g += lambda * y
                    v[k] = delta * v[k] - eta * g
                    x[k] += v[k]
                } else {
                    var g = Float(h[k] * (Double(x[k]) - target[k]))
                    g += lambda * x[k]
                    x[k] -= eta * g
                    let rate: Float = method == .asgd ? 1 / Float(t + 1) : a
                    z[k] += rate * (x[k] - z[k])
                }
            }
        }
        for threads in [1, 2, 3] {
            ComputeThreads.set(threads)
            defer { ComputeThreads.set(1) }
            let objective = QuadraticObjective<Float>(curvatures: h, minimizer: target)
            let optimizer = SequentialOptimizer(settings: OptimizerSettings(method: method, learningRate: Double(eta),
                momentum: Double(delta), movingRate: Double(a), weightDecay: Double(lambda)), count: n)
            for k in 0..<n { optimizer.parameters[k] = start[k] }
            optimizer.start()
            for _ in 0..<steps { _ = optimizer.step(objective) }
            // (Compared first, so that a failure prints one line rather than 12,411 numbers.)
            let sameX = optimizer.parameters.array == x
            let sameV = method != .msgd || optimizer.velocity.array == v
            let sameZ = !method.evaluatesAverage || optimizer.average.array == z
            #expect(sameX && sameV && sameZ, "x \(sameX), v \(sameV), z \(sameZ) at \(threads) threads")
        }
    }

    /// The images of a batch are written on the compute threads after their crops and flips are drawn in order:
    /// 1, 2 and 3 threads give the same batches, and each image is a crop of a stored image with its label.
    @Test func batchThreadsDoNotChangeTheImages() throws {
        var rng = SplitMix64(seed: 5)
        let stored = Shape(channels: 3, height: 12, width: 12), count = 40
        let data = Dataset(name: "synthetic", shape: stored,
                           pixels: (0..<(count * stored.count)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                           labels: (0..<count).map { _ in UInt8(rng.nextInt(below: 10)) }, classes: 10)
        let preprocessing = try Preprocessing(train: data, input: Shape(channels: 3, height: 8, width: 8))
        func batches(threads: Int) throws -> [[Float]] {
            ComputeThreads.set(threads)
            defer { ComputeThreads.set(1) }
            var stream = try BatchStream(data: data, preprocessing: preprocessing, batchSize: 13, seed: 3)
            let images = FlatBuffer<Float>(count: 13 * 3 * 8 * 8)
            var labels = [Int32](repeating: 0, count: 13)
            return (0..<5).map { _ in
                labels.withUnsafeMutableBufferPointer { stream.next(images: images.base, labels: $0.baseAddress!) }
                return images.array + labels.map(Float.init)
            }
        }
        let one = try batches(threads: 1)
        let two = try batches(threads: 2) == one, three = try batches(threads: 3) == one
        #expect(two && three, "2 threads \(two), 3 threads \(three)")
        // Every image is a crop, flipped or not and less the channel means, of a stored image that carries its
        // label (an independent check that the parallel writes put whole images in their places).
        for batch in one {
            for b in 0..<13 {
                let image = Array(batch[(b * 192)..<((b + 1) * 192)]), label = UInt8(batch[13 * 192 + b])
                var found = false
                for i in 0..<count where !found && data.labels[i] == label {
                    for dy in 0...4 where !found { for dx in 0...4 where !found { for flip in [false, true] where !found {
                        var same = true
                        for c in 0..<3 where same { for y in 0..<8 where same { for xx in 0..<8 {
                            let sx = flip ? dx + 7 - xx : dx + xx
                            let pixel = Float(data.pixels[((i * 3 + c) * 12 + dy + y) * 12 + sx]) / 255 - preprocessing.mean[c]
                            if abs(pixel - image[(c * 8 + y) * 8 + xx]) > 1e-6 { same = false; break }
                        } } }
                        found = same
                    } } }
                }
                #expect(found, "image \(b) is no crop of a stored image labelled \(label)")
            }
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

@Test func aNewRunFixesItsTestImagesAndEvaluationCadenceByTheStatedRule() {
    func fixed(method: Algorithm = .msgd, workers: Int = 1, steps: Int? = nil, batch: Int = 128, trainSubset: Int? = nil,
               testSubset: Int? = nil, evalEvery: EvaluationInterval? = nil, stepsPerEpoch: Int) -> (Int?, EvaluationInterval?) {
        var s = RunSettings(method: method, learningRate: 0.01, net: "small", netSpec: "(1,28)C(4,24)P(4,12)S(10,1)",
                            data: "fashion-mnist", batch: batch, seed: 1, budget: Budget(steps: steps), evalEvery: evalEvery,
                            trainSubset: trainSubset)
        s.workers = workers
        s.testSubset = testSubset
        s.fixEvaluations(testImages: 10_000, stepsPerEpoch: stepsPerEpoch)
        return (s.testSubset, s.evalEvery)
    }
    // The whole training set (60,000 images, 468 steps of 128 an epoch): all 10,000 test images, four evaluations
    // an epoch (117 steps), as before the rule, since ⌈11,000/128⌉ = 86 is closer.
    #expect(fixed(stepsPerEpoch: 468) == (10_000, .steps(117)))
    // A 5,000-image subset (39 steps an epoch): the first 5,000 test images, and every ⌈6,000/128⌉ = 47 steps
    // instead of every 9.
    #expect(fixed(trainSubset: 5000, stepsPerEpoch: 39) == (5000, .steps(47)))
    // A 500-image subset: the first 1,000 test images; full batch (B = 500, an epoch one step): every ⌈2,000/500⌉ = 4.
    #expect(fixed(batch: 500, trainSubset: 500, stepsPerEpoch: 1) == (1000, .steps(4)))
    // Parallel, p = 4 × 300 steps: eight evaluations (every 150 worker steps in total); p = 2 × 60 on a 2,000-image
    // subset: every ⌈3,000/128⌉ = 24 rather than every 15.
    #expect(fixed(method: .easgd, workers: 4, steps: 300, stepsPerEpoch: 0) == (10_000, .steps(150)))
    #expect(fixed(method: .easgd, workers: 2, steps: 60, trainSubset: 2000, stepsPerEpoch: 0) == (2000, .steps(24)))
    // What is given is kept (a test subset larger than the test set too: the run refuses it, a CLI test).
    #expect(fixed(trainSubset: 500, testSubset: 300, evalEvery: .steps(5), stepsPerEpoch: 3) == (300, .steps(5)))
    #expect(fixed(testSubset: 20_000, evalEvery: .seconds(30), stepsPerEpoch: 468) == (20_000, .seconds(30)))
}

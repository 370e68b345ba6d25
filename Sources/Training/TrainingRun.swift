// A sequential (p = 1) training run: the executor of one model under the run lifecycle (RunLifecycle: records,
// evaluations, checkpoints, signals, status), stopping on budget,
// signal or divergence, and resume bit for bit. Everything that influences the next step (parameters,
// velocity, average, step counter, the data stream, the dropout stream, the running loss) is in the
// checkpoint; the wall clock is the only thing that differs between an interrupted and a straight run.

import Records
import Dispatch
import Elastic
import Foundation

public enum RunOutcome: Equatable, Sendable {
    case completed
    /// Stopped by a signal after writing a checkpoint.
    case interrupted(signal: Int32)
    /// The loss or the parameters stopped being finite; `lastCheckpointStep` is what the directory still holds.
    case diverged(step: Int, reason: String, lastCheckpointStep: Int)
}

extension RunOutcome {
    /// Stopped by a signal.
    public var isInterrupted: Bool { if case .interrupted = self { true } else { false } }
}

/// What the progress display is told after each step.
public struct TrainingProgress: Sendable {
    public init(step: Int, targetSteps: Int?, epoch: Double, epochTarget: Double?, seconds: Double, minutesTarget: Double?,
                recentLoss: Double, imagesPerSecond: Double, virtualTime: Bool = false) {
        self.virtualTime = virtualTime
        self.step = step
        self.targetSteps = targetSteps
        self.epoch = epoch
        self.epochTarget = epochTarget
        self.seconds = seconds
        self.minutesTarget = minutesTarget
        self.recentLoss = recentLoss
        self.imagesPerSecond = imagesPerSecond
    }
    public var step: Int
    public var targetSteps: Int?
    public var epoch: Double
    public var epochTarget: Double?
    public var seconds: Double
    public var minutesTarget: Double?
    public var recentLoss: Double
    public var imagesPerSecond: Double
    /// The seconds (and so the images per second) are the simulator's virtual time, not the machine's.
    public var virtualTime: Bool
}

struct RunState: Codable {
    var method: Algorithm
    var parameterCount: Int
    var step: Int
    var samples: Int
    var trainingSeconds: Double
    var wallSeconds: Double
    var stream: StreamState
    var dropout: UInt64
    var lossSum: Double
    var lossCount: Int
    var metricsCount: Int
    /// The run the checkpoint belongs to (config.json's runID; nil in checkpoints written before run ids).
    var runID: String?
}

public final class TrainingRun: RunExecutor {
    /// Fixed once the run is built, except `changes`, which a resume with a new learning rate extends.
    public private(set) var settings: RunSettings
    public let directory: String
    public let data: DataSplit
    public let spec: NetSpec
    public let replica: Replica
    public let optimizer: SequentialOptimizer
    /// Records, schedule, checkpoint cadence, signals and status (RunLifecycle); holds the directory's lock.
    public let lifecycle: RunLifecycle
    public var records: [MetricRecord] { lifecycle.records }
    public var evaluator: Evaluator { lifecycle.evaluator }
    public var trainEvaluator: Evaluator { lifecycle.trainEvaluator }
    public private(set) var samples = 0
    public private(set) var trainingSeconds = 0.0
    public var lastCheckpointStep: Int { lifecycle.lastCheckpointStep }
    private var lossSum = 0.0
    private var lossCount = 0
    private var recentLoss = Double.nan
    private let preprocessing: Preprocessing
    /// Each step's learning rate: the schedule at the step count (an epoch of `stepsPerEpoch` steps; the budget's
    /// steps for cosine), times the plateau's scale.
    public private(set) var rate = LearningRate(base: 0)

    /// A new run. `data` may be given (tests); otherwise it is loaded from `settings.data`.
    public convenience init(settings: RunSettings, directory: String, data: DataSplit? = nil) throws {
        try self.init(settings: settings, directory: directory, data: data, resuming: false)
    }

    /// Takes the directory's lock (a new run also refuses a directory that already holds one) before anything of
    /// the run is read from it or written to it, so no other process does either until this one ends.
    private init(settings: RunSettings, directory: String, data: DataSplit?, resuming: Bool) throws {
        guard settings.method.isSequential else {
            throw DataError("\(settings.method.rawValue) is not a sequential method (one worker)")
        }
        var settings = settings
        var spec = try NetSpec(parsing: settings.netSpec)
        if settings.convolutions == nil { settings.convolutions = ConvolutionPath.defaults(spec) }
        spec.convolutionPaths = settings.convolutions
        self.settings = settings
        self.directory = directory
        self.spec = spec
        try MemoryEstimate.check(MemoryEstimate.training(spec, replicas: 1, batch: settings.batch, evaluators: 2, vectors: 4),
                                 for: "net \(spec.text) at batch \(settings.batch)")
        self.data = try (data ?? DataSource.load(settings.data)).trainSubset(settings.trainSubset, seed: settings.seed)
        guard spec.classes == self.data.train.classes else {
            throw DataError("the net has \(spec.classes) outputs but \(self.data.train.name) has \(self.data.train.classes) classes")
        }
        preprocessing = try Preprocessing(train: self.data.train, input: spec.input)
        let stream = try BatchStream(data: self.data.train, preprocessing: preprocessing, batchSize: settings.batch,
                                     seed: SplitMix64.derived(from: settings.seed, stream: 0xDA7A).state, fullBatch: settings.fullBatch == true)
        if !resuming {
            settings.fixEvaluations(testImages: self.data.test.count, stepsPerEpoch: stream.batchesPerEpoch)
            self.settings = settings
        }
        let tested = try settings.evaluatedTestSet(self.data)
        replica = Replica(spec: spec, stream: stream, seed: settings.seed)
        optimizer = SequentialOptimizer(settings: settings.optimizer, count: replica.parameterCount)
        let loaded = self.data
        let sharpness = settings.sharpnessEvery.map { [spec, preprocessing] _ in
            SharpnessProbe(spec: spec, train: loaded.train, preprocessing: preprocessing, weightDecay: settings.optimizer.weightDecay,
                           fullBatch: settings.fullBatch == true)
        }
        let evalEvery = settings.evalEvery?.steps ?? max(1, stream.batchesPerEpoch / TrainingDefaults.evaluationsPerEpoch)
        // Last, after everything that can fail, so a refused run leaves no directory behind.
        lifecycle = try RunLifecycle(directory: directory, resuming: resuming,
                                     evaluator: Evaluator(spec: spec, test: tested, preprocessing: preprocessing),
                                     trainEvaluator: Evaluator(spec: spec, test: self.data.train.prefix(TrainingDefaults.trainLossImages),
                                                               preprocessing: preprocessing),
                                     evaluations: .steps(evalEvery), checkpointEveryMinutes: settings.checkpointEveryMinutes,
                                     sharpness: sharpness, sharpnessEvery: settings.sharpnessEvery)
        replica.network.initialize(optimizer.parameters, seed: settings.initialisationSeed)
        optimizer.start()
        rate = LearningRate(base: settings.learningRate, schedule: settings.lrSchedule ?? .constant,
                            stepsPerEpoch: Double(stream.batchesPerEpoch), totalSteps: targetSteps)
        lifecycle.schedule(rate)
    }

    /// Continues the run in `directory` from its checkpoint; `budget` (when not empty) replaces the saved one.
    public static func resume(directory: String, budget: Budget, data: DataSplit? = nil) throws -> TrainingRun {
        var settings = try RunFiles.readSettings(directory)
        if !budget.isEmpty { settings.budget = budget }
        return try resume(directory: directory, settings: settings, data: data)
    }

    /// Continues the run in `directory` with `settings`, which may differ from the saved ones only in the
    /// budget and the thread count (the new values are written to config.json when the run starts), and with
    /// `rate` in the learning rate and its schedule (kept in config.json as a dated change).
    public static func resume(directory: String, settings: RunSettings, rate: RateChange = RateChange(),
                              data: DataSplit? = nil) throws -> TrainingRun {
        let saved = try RunFiles.readSettings(directory)
        var comparable = settings
        comparable.budget = saved.budget
        comparable.threads = saved.threads
        comparable.convolutions = saved.convolutions
        guard comparable == saved else {
            throw DataError("\(RunFiles.config(directory)): only the budget, the thread count and the learning rate may change on resume")
        }
        var settings = settings
        let change = rate.apply(rate: &settings.learningRate, schedule: &settings.lrSchedule)
        // The convolutions' paths are the run's own, not this build's defaults.
        settings.convolutions = try saved.convolutions ?? ConvolutionPath.unrecorded(NetSpec(parsing: saved.netSpec))
        let run = try TrainingRun(settings: settings, directory: directory, data: data, resuming: true)
        try run.restore()
        if let change {
            let dated = SettingsChange(atStep: run.step, learningRate: change.learningRate, lrSchedule: change.lrSchedule)
            run.settings.changes = (run.settings.changes ?? []) + [dated]
            RateChange.announce(dated, config: RunFiles.config(directory))
        }
        return run
    }

    public var stepsPerEpoch: Int { replica.stream.batchesPerEpoch }
    public var evalEvery: Int { lifecycle.evaluationInterval.steps! }
    public var step: Int { optimizer.step }

    /// The step at which the step and epoch budgets stop the run (nil: only the time budget applies).
    public var targetSteps: Int? {
        var target: Int? = settings.budget.steps
        if let e = settings.budget.epochs {
            let s = Int((e * Double(stepsPerEpoch)).rounded(.up))
            target = min(target ?? s, s)
        }
        return target
    }

    public var epochs: Double { Double(samples) / Double(data.train.count) }

    // MARK: Running

    /// Trains until a budget is reached, a signal arrives or the run diverges.
    /// `status.json` says how it ended.
    public func run(progress: @escaping (TrainingProgress) -> Void = { _ in },
                    log: @escaping (MetricRecord) -> Void = { _ in }) throws -> RunOutcome {
        lifecycle.progress = progress
        lifecycle.log = log
        return try lifecycle.run(self)
    }

    // MARK: The executor

    public var policy: DivergencePolicy { .stopRun }
    public var steps: Int { step }

    public func prepare(_ run: RunLifecycle) throws { try writeConfig() }

    /// One step at a time until the step, epoch or time budget is reached.
    public func advance(_ run: RunLifecycle) throws -> ExecutorStop {
        let target = targetSteps
        let timeLimit = settings.budget.minutes.map { $0 * 60 }
        while true {
            if let pause = run.pauseWanted() { return .paused(pause) }
            if let target, step >= target { return .budgetDone }
            if let timeLimit, trainingSeconds >= timeLimit { return .budgetDone }

            let t0 = DispatchTime.now().uptimeNanoseconds
            let loss = optimizer.step(replica, learningRate: rate.at(step, scale: run.rateScale))
            trainingSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            samples += settings.batch
            guard loss.isFinite else { return .diverged(step: step, reason: "the training loss is \(loss.isNaN ? "NaN" : "infinite")") }
            lossSum += loss
            lossCount += 1
            recentLoss = recentLoss.isNaN ? loss : 0.95 * recentLoss + 0.05 * loss

            if run.evaluationDue(steps: step, seconds: trainingSeconds) {
                guard try run.record(snapshot(run), policy: policy) else {
                    return .diverged(step: step, reason: "the model's parameters or test loss are no longer finite")
                }
            }
            run.progress(TrainingProgress(step: step, targetSteps: target, epoch: epochs, epochTarget: settings.budget.epochs,
                                          seconds: trainingSeconds, minutesTarget: settings.budget.minutes,
                                          recentLoss: recentLoss, imagesPerSecond: Double(samples) / max(trainingSeconds, 1e-9)))
        }
    }

    /// The iterate (or average) now, with the mean minibatch loss since the last snapshot.
    public func snapshot(_ run: RunLifecycle) -> Snapshot {
        let minibatch = lossCount > 0 ? lossSum / Double(lossCount) : nil
        lossSum = 0
        lossCount = 0
        return Snapshot(model: optimizer.model,
                        progress: MetricRecord(step: step, samples: samples, epoch: epochs, seconds: trainingSeconds, wallSeconds: run.wall(),
                                               trainLoss: nil, minibatchLoss: minibatch, testLoss: .nan, testError: .nan))
    }

    public var uncheckpointable: String? {
        optimizer.stateBuffers.allSatisfy { $0.buffer.isFinite } ? nil : "the optimizer state is no longer finite"
    }

    public func status(_ outcome: RunOutcome, records: [MetricRecord]) -> RunStatus { RunStatus(outcome: outcome) }

    // MARK: Files

    private func writeConfig() throws {
        try RunFiles.writeConfig(RunConfig(settings: settings, runID: lifecycle.runID,
                                           data: .init(data, input: spec.input, preprocessing: preprocessing),
                                           model: .init(parameters: replica.parameterCount,
                                                        forwardFlopsPerImage: replica.network.forwardFlopsPerImage)),
                                 to: directory)
    }

    public func writeCheckpoint(_ run: RunLifecycle) throws {
        let state = RunState(method: settings.optimizer.method, parameterCount: replica.parameterCount, step: step,
                             samples: samples, trainingSeconds: trainingSeconds, wallSeconds: run.wall(),
                             stream: replica.stream.state,
                             dropout: replica.dropout.state, lossSum: lossSum, lossCount: lossCount,
                             metricsCount: run.records.count, runID: run.runID)
        try Checkpoint.write(state, buffers: optimizer.stateBuffers, to: RunFiles.checkpoint(directory))
    }

    private func restore() throws {
        let path = RunFiles.checkpoint(directory)
        let (state, buffers) = try Checkpoint.read(path, as: RunState.self)
        let id = RunFiles.readRunID(directory)
        try RunFiles.checkBinding(checkpointRunID: state.runID, configRunID: id, checkpoint: path)
        if let id { lifecycle.runID = id }
        guard state.method == settings.optimizer.method, state.parameterCount == replica.parameterCount else {
            throw DataError("\(path): holds a \(state.method.rawValue) run of \(state.parameterCount) parameters, config.json describes \(settings.optimizer.method.rawValue) with \(replica.parameterCount)")
        }
        for (name, buffer) in optimizer.stateBuffers {
            guard let values = buffers[name], values.count == buffer.count else {
                throw DataError("\(path): missing or mis-sized buffer '\(name)'")
            }
            values.withUnsafeBufferPointer { buffer.base.update(from: $0.baseAddress!, count: values.count) }
        }
        optimizer.step = state.step
        samples = state.samples
        trainingSeconds = state.trainingSeconds
        replica.stream.restore(state.stream)
        replica.dropout.state = state.dropout
        lossSum = state.lossSum
        lossCount = state.lossCount
        // The schedule counts multiples of N from step 0 (restore's rule).
        try lifecycle.restore(records: RunFiles.readMetrics(directory), count: state.metricsCount, step: state.step,
                              wallSeconds: state.wallSeconds)
    }
}

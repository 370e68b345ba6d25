// A parallel training run of a CNN in a run directory: p workers, each with its own replica (its own shuffled
// data stream, crops and dropout from its own seed), a master, a tester that evaluates the center (or the
// master's average) on the test set, and metrics.jsonl / metrics.csv in the same format as sequential runs, with
// the exchanges and the time spent communicating added. Time is virtual on the simulated backend (the seconds
// p devices would have taken at the given per-step costs) and wall-clock on the threads backend.

import Records
import Dispatch
import Elastic
import Foundation
import Training

extension RunSettings {
    /// The engine's view of a parallel run's method and its hyper-parameters.
    public var engine: EngineSettings {
        get {
            var e = EngineSettings(method: method, workers: workers, learningRate: learningRate, alpha: alpha ?? 0, tau: tau ?? 1,
                                   momentum: momentum, movingRate: movingRate, weightDecay: weightDecay, rho: rho ?? EngineSettings.defaultRho,
                                   outer: outer)
            e.schedule = lrSchedule
            e.compression = compression
            e.replyCompression = replyCompression
            // A compressed update is encoded slice by slice where the center is held in slices (MPI's servers) or
            // modelled so (the simulated link model's), so that every backend decodes the same values.
            let slices = backend == .mpi ? (mpiServers ?? 1) : backend == .simulated ? (links?.servers ?? 1) : 1
            if compression != nil || replyCompression != nil, slices > 1 { e.slices = slices }
            return e
        }
        set {
            method = newValue.method
            workers = newValue.workers
            learningRate = newValue.learningRate
            alpha = newValue.alpha
            tau = newValue.tau
            momentum = newValue.momentum
            movingRate = newValue.movingRate
            weightDecay = newValue.weightDecay
            rho = newValue.rho
            lrSchedule = newValue.schedule
            outer = newValue.outer
            compression = newValue.compression
            replyCompression = newValue.replyCompression
        }
    }

    /// A parallel run: the method's settings (`engine`), p workers on `backend`, `steps` each.
    public init(engine: EngineSettings, net: String, netSpec: String, data: String, batch: Int, seed: UInt64, backend: Backend,
                schedule: Schedule = .clock, computeSeconds: Double? = nil, communicationSeconds: Double = 0,
                steps: Int, evalEvery: EvaluationInterval?, checkpointEveryMinutes: Double? = nil,
                sharpnessEvery: Int? = nil, sharpnessOfWorkers: Bool? = nil, trainSubset: Int? = nil, fullBatch: Bool? = nil) {
        self.init(method: engine.method, learningRate: engine.learningRate, net: net, netSpec: netSpec, data: data, batch: batch,
                  seed: seed, budget: Budget(steps: steps), evalEvery: evalEvery, checkpointEveryMinutes: checkpointEveryMinutes,
                  threads: nil, sharpnessEvery: sharpnessEvery, trainSubset: trainSubset, fullBatch: fullBatch)
        self.engine = engine
        self.backend = backend
        simulatorOrder = schedule
        self.computeSeconds = computeSeconds
        self.communicationSeconds = communicationSeconds
        self.sharpnessOfWorkers = sharpnessOfWorkers
    }
}

public final class ParallelTrainingRun {
    /// Fixed once the run is built, except `stepOffset`, which an elastic resume sets after restoring.
    public private(set) var settings: RunSettings
    /// The backend it runs on (the settings'; a parallel run always has one).
    public let backend: Backend
    public let directory: String
    public let data: DataSplit
    public let engine: ParallelEngine<Float>
    /// Records, schedule, checkpoint cadence, signals and status (RunLifecycle); holds the directory's lock. The
    /// backends' executors drive the engine under it.
    public let lifecycle: RunLifecycle
    public var records: [MetricRecord] { lifecycle.records }
    public var evaluator: Evaluator { lifecycle.evaluator }
    public var trainEvaluator: Evaluator { lifecycle.trainEvaluator }
    /// The virtual compute cost per step actually used (given or measured).
    public package(set) var computeSeconds = 0.0
    /// Set by `resume`: the clocks the checkpoint held (the simulator's, or the seconds a threads or MPI run had run).
    private var restored: (simulator: SimulatorState?, wall: WallClock?)? = nil

    /// Binds the run's checkpoints to it (config.json's runID); a resumed run keeps the one its config holds.
    package var runID: String { lifecycle.runID }
    /// The simulator's clocks from the checkpoint of a resumed simulated run.
    package var restoredSimulator: SimulatorState? { restored?.simulator }

    /// A new run. `data` may be given (tests); otherwise it is loaded from `settings.data`.
    public convenience init(settings: RunSettings, directory: String, data: DataSplit? = nil) throws {
        try self.init(settings: settings, directory: directory, data: data, resuming: false)
    }

    /// Takes the directory's lock (a new run also refuses a directory that already holds one) before anything of
    /// the run is read from it or written to it, so no other process does either until this one ends.
    private init(settings: RunSettings, directory: String, data: DataSplit?, resuming: Bool) throws {
        guard settings.engine.method.trainsNetworks, settings.engine.method.isParallel, let backend = settings.backend else {
            throw DataError("\(settings.engine.method.rawValue) does not train a network on p workers")
        }
        try backend.check(settings.engine.method)
        self.backend = backend
        var settings = settings
        let spec = try settings.fixingConvolutions()
        self.settings = settings
        self.directory = directory
        // p replicas and the tester's two evaluators; each worker's parameters, gradient, velocity or accumulator
        // and the master's center, velocity and average; under MPI also rank 0's buffer per worker for overlapped
        // exchanges, its message buffer and the tester's snapshot (in lockstep also its round's buffer and answer);
        // with error feedback a residual per worker, with a coded exchange (EASGD) a reference and a message per
        // worker, and with
        // a compressed reply the center as each worker last received it.
        let p = settings.engine.workers
        let mpi = settings.backend == .mpi ? p + 2 + (settings.engine.method.stepsTogether ? 2 : 0) : 0
        let coded = (settings.engine.compression?.errorFeedback == true ? p : 0) + (settings.engine.replyCompression != nil ? p : 0)
            + (settings.engine.codesExchange ? 2 * p : 0)
        try MemoryEstimate.check(MemoryEstimate.training(spec, replicas: p, batch: settings.batch, evaluators: 2, vectors: 4 * p + 3 + mpi + coded),
                                 for: "\(p) workers of net \(spec.text) at batch \(settings.batch)")
        self.data = try (data ?? DataSource.load(settings.data)).trainSubset(settings.trainSubset, seed: settings.seed)
        guard spec.classes == self.data.train.classes else {
            throw DataError("the net has \(spec.classes) outputs but \(self.data.train.name) has \(self.data.train.classes) classes")
        }
        let preprocessing = try Preprocessing(train: self.data.train, input: spec.input)
        if !resuming {
            settings.fixEvaluations(testImages: self.data.test.count, stepsPerEpoch: 0)
            self.settings = settings
        }
        let tested = try settings.evaluatedTestSet(self.data)
        let loaded = self.data
        let replicas = try (0..<settings.engine.workers).map {
            try ParallelTrainingRun.makeReplica(settings: settings, spec: spec, data: loaded, preprocessing: preprocessing, worker: $0)
        }
        described = (.init(self.data, input: spec.input, preprocessing: preprocessing),
                     .init(parameters: replicas[0].parameterCount, forwardFlopsPerImage: replicas[0].network.forwardFlopsPerImage))
        let initial = ParallelTrainingRun.initialParameters(settings: settings, replica: replicas[0])
        engine = ParallelEngine(settings: settings.engine, objectives: replicas, initial: initial)
        engine.learningRate = ParallelTrainingRun.learningRate(settings, stepsPerEpoch: replicas[0].stream.batchesPerEpoch)
        let sharpness = settings.sharpnessEvery.map { _ in
            SharpnessProbe(spec: spec, train: loaded.train, preprocessing: preprocessing, weightDecay: settings.engine.weightDecay,
                           fullBatch: settings.fullBatch == true)
        }
        // Last, after everything that can fail, so a refused run leaves no directory behind.
        lifecycle = try RunLifecycle(directory: directory, resuming: resuming,
                                     evaluator: Evaluator(spec: spec, test: tested, preprocessing: preprocessing),
                                     trainEvaluator: Evaluator(spec: spec, test: self.data.train.prefix(TrainingDefaults.trainLossImages),
                                                               preprocessing: preprocessing),
                                     evaluations: settings.evalEvery ?? .steps(TrainingDefaults.parallelEvaluations(workers: p, steps: settings.steps)),
                                     checkpointEveryMinutes: settings.checkpointEveryMinutes,
                                     sharpness: sharpness, sharpnessEvery: settings.sharpnessEvery,
                                     sharpnessOfWorkers: settings.sharpnessOfWorkers == true)
        lifecycle.schedule(engine.learningRate)
    }

    /// The learning rate of every worker's steps, on every backend: the schedule at the worker's own clock, an
    /// epoch being the worker's own pass over the training set, the budget its --steps.
    package static func learningRate(_ settings: RunSettings, stepsPerEpoch: Int) -> LearningRate {
        LearningRate(base: settings.engine.learningRate, schedule: settings.engine.schedule ?? .constant,
                     stepsPerEpoch: Double(stepsPerEpoch), totalSteps: settings.steps)
    }

    /// Worker i's replica: its own data stream, crops and dropout, from a seed derived from the run's seed.
    package static func makeReplica(settings: RunSettings, spec: NetSpec, data: DataSplit, preprocessing: Preprocessing,
                                    worker i: Int) throws -> Replica {
        let seed = SplitMix64.derived(from: settings.seed, stream: 0x3000 + UInt64(i)).state
        let stream = try BatchStream(data: data.train, preprocessing: preprocessing, batchSize: settings.batch, seed: seed,
                                     fullBatch: settings.fullBatch == true)
        return Replica(spec: spec, stream: stream, seed: seed)
    }

    /// The starting point of every worker and the center: He initialisation from the run's seed.
    private static func initialParameters(settings: RunSettings, replica: Replica) -> [Float] {
        let initial = FlatBuffer<Float>(count: replica.parameterCount)
        replica.network.initialize(initial, seed: settings.initialisationSeed)
        return initial.array
    }

    /// What an evaluation of `model` stands for, with the workers' progress as known to the caller: the record's
    /// step and exchanges are their sums, and its worker loss is the mean of the finite losses (stopped workers are
    /// left out).
    /// `workerModels`: each worker's parameters, for `--sharpness-of workers` (given only where they can be read
    /// safely: the simulator, and the threads backend after its workers have joined).
    package func snapshot(model: FlatBuffer<Float>, seconds: Double, wall: Double, communication: Double?,
                          workers: [WorkerProgress], workerModels: [FlatBuffer<Float>]? = nil, countedSteps: Int? = nil) -> Snapshot {
        let step = workers.reduce(0) { $0 + $1.clock } + stepOffset
        let samples = step * settings.batch
        let exchanges = workers.reduce(0) { $0 + $1.exchanges }, n = model.count
        var progress = MetricRecord(step: step, samples: samples, epoch: Double(samples) / Double(data.train.count),
                                    seconds: seconds, wallSeconds: wall, trainLoss: nil, minibatchLoss: workers.meanLoss,
                                    testLoss: .nan, testError: .nan,
                                    exchanges: exchanges, communicationSeconds: communication,
                                    workerSteps: workers.map(\.clock), workerLoss: workers.map { $0.loss.isFinite ? $0.loss : nil })
        progress.bytesSent = exchanges * settings.engine.bytesSent(parameters: n)
        progress.bytesReceived = exchanges * settings.engine.bytesReceived(parameters: n)
        return Snapshot(model: model, progress: progress, workerModels: workerModels, countedSteps: countedSteps,
                        rateStep: workers.reduce(0) { $0 + $1.clock } / max(workers.count, 1))
    }

    /// Writes config.json.
    package func writeConfig(measuredComputeSeconds: Double?) throws {
        try RunFiles.writeConfig(RunConfig(settings: settings, runID: runID, measuredComputeSeconds: measuredComputeSeconds,
                                           data: described.data, model: described.model), to: directory)
    }

    /// The data and model config.json describes.
    private let described: (data: RunConfig.DataDescription, model: RunConfig.ModelDescription)

    /// Continues the run in `directory` from its checkpoint, with a new total of steps per worker if given.
    /// A simulated run continues bit for bit; a threads run continues from the saved state (thread timing is not
    /// reproducible).
    /// With `workers` different from the run's p, the restart is elastic (`ParallelEngine.restore`).
    /// `servers`: the S of an MPI resume (recorded; a change of S is announced and kept in the config's changes).
    /// `rate`: a new learning rate or schedule from here on (kept in the config's changes).
    public static func resume(directory: String, steps: Int?, workers: Int? = nil, servers: Int? = nil, rate: RateChange = RateChange(),
                              data: DataSplit? = nil) throws -> ParallelTrainingRun {
        let saved = try RunFiles.readConfig(directory)
        guard saved.settings.isParallel else { throw DataError("\(RunFiles.config(directory)): not a parallel run") }
        var settings = saved.settings
        if let steps { settings.steps = steps }
        let savedWorkers = settings.engine.workers, savedAlpha = settings.engine.alpha
        let savedServers = settings.mpiServers ?? 1
        if let servers { settings.mpiServers = servers }
        let rateChange = rate.apply(rate: &settings.learningRate, schedule: &settings.lrSchedule)
        if let workers, workers != savedWorkers {
            guard settings.engine.method.trainsNetworks, !settings.engine.method.stepsTogether else {
                throw SettingsError("\(settings.engine.method.rawValue) runs resume with their own p = \(savedWorkers) only")
            }
            settings.engine.workers = workers
            if let beta = settings.alphaFromBeta { settings.engine.alpha = beta / Double(workers) }
        }
        if settings.backend == .simulated { settings.computeSeconds = saved.measuredComputeSeconds ?? settings.computeSeconds }
        // The convolutions' paths are the run's own, not this build's defaults.
        if settings.convolutions == nil { settings.convolutions = ConvolutionPath.unrecorded(try NetSpec(parsing: settings.netSpec)) }
        let run = try ParallelTrainingRun(settings: settings, directory: directory, data: data, resuming: true)
        if let id = saved.runID { run.lifecycle.runID = id }
        let path = RunFiles.checkpoint(directory)
        var (sim, wall, metricsCount, savedSteps) = try run.engine.restoreCheckpoint(from: path, runID: saved.runID)
        if var clocks = sim, clocks.workerTimes.count != settings.engine.workers {
            // Elastic: kept workers keep their virtual times, new ones start at the simulator's now.
            clocks.workerTimes = (0..<settings.engine.workers).map { $0 < clocks.workerTimes.count ? clocks.workerTimes[$0] : clocks.now }
            clocks.nextRoundRobin %= settings.engine.workers
            sim = clocks
        }
        run.restored = (sim, wall)
        let newServers = settings.mpiServers ?? 1
        if settings.engine.workers != savedWorkers || newServers != savedServers {
            // The records go on counting the steps done: the workers' clocks after the restore (kept ones as they
            // were, new ones at the furthest clock) plus this offset equal the steps before it.
            let clocks = run.engine.workers.reduce(0) { $0 + $1.clock }
            run.settings.stepOffset = run.stepOffset + savedSteps - clocks
            let coupled = settings.engine.method.takes(.alpha)
            let change = SettingsChange(date: ISO8601DateFormatter().string(from: Date()), atStep: savedSteps + (saved.settings.stepOffset ?? 0),
                                        workers: [savedWorkers, settings.engine.workers],
                                        alpha: coupled ? [savedAlpha, settings.engine.alpha] : nil,
                                        beta: coupled ? settings.alphaFromBeta : nil,
                                        servers: newServers != savedServers ? [savedServers, newServers] : nil)
            run.settings.changes = (run.settings.changes ?? []) + [change]
            try run.writeConfig(measuredComputeSeconds: saved.measuredComputeSeconds)
            if settings.engine.workers != savedWorkers {
                let alpha = coupled ? String(format: ", α = %.6g → %.6g", savedAlpha, settings.engine.alpha)
                    + (settings.alphaFromBeta.map { String(format: " (β = pα = %.6g kept)", $0) } ?? " (α as given, kept)") : ""
                FileHandle.standardError.write(Data(("elastic restart: p = \(savedWorkers) → \(settings.engine.workers)\(alpha)"
                    + "; the records' worker_steps have one entry per worker from here; recorded in \(RunFiles.config(directory))\n").utf8))
            }
            if newServers != savedServers {
                FileHandle.standardError.write(Data("the center's shards: S = \(savedServers) → \(newServers) (--servers); recorded in \(RunFiles.config(directory))\n".utf8))
            }
        }
        if let rateChange {
            let dated = SettingsChange(atStep: savedSteps + (saved.settings.stepOffset ?? 0), learningRate: rateChange.learningRate,
                                       lrSchedule: rateChange.lrSchedule)
            run.settings.changes = (run.settings.changes ?? []) + [dated]
            RateChange.announce(dated, config: RunFiles.config(directory))
        }
        guard let count = metricsCount else {
            throw DataError("\(RunFiles.metricsJSONL(directory)): fewer records than the checkpoint expects")
        }
        try run.lifecycle.restore(records: RunFiles.readMetrics(directory), count: count, step: savedSteps, wallSeconds: wall?.elapsed ?? 0)
        return run
    }

    /// How the run ended, for status.json: a run whose every worker stopped has diverged, and so has one whose
    /// center (or average) no longer evaluates to a finite loss.
    public func status(_ outcome: RunOutcome) -> RunStatus {
        if case .completed = outcome, let last = records.last, !last.testLoss.isFinite {
            return RunStatus(.diverged, reason: "the evaluated model's test loss is not finite at step \(last.step)")
        }
        if case .completed = outcome, engine.aliveWorkers == 0 {
            return RunStatus(.diverged, reason: "every worker stopped (non-finite loss or parameters)")
        }
        return RunStatus(outcome: outcome)
    }

    /// Worker steps in total so far (every worker's clock).
    package var totalSteps: Int { engine.workers.reduce(0) { $0 + $1.clock } + stepOffset }

    /// See `ParallelRunSettings.stepOffset`.
    package var stepOffset: Int { settings.stepOffset ?? 0 }

    /// Seconds (and communication seconds) a resumed wall-clock run had already run.
    package var wallClockAtStart: WallClock { restored?.wall ?? WallClock(elapsed: 0, communication: 0) }

    /// Checkpoints the whole system of a wall-clock run (threads, MPI), with its records so far.
    package func writeCheckpoint(wall: WallClock) throws {
        try engine.writeCheckpoint(to: RunFiles.checkpoint(directory), simulator: nil, wall: wall, metricsCount: records.count, runID: runID)
    }

    /// The center (or the average) after every worker's steps so far.
    package func snapshot(seconds: Double, wall: Double, communication: Double?) -> Snapshot {
        snapshot(model: engine.master.model(settings.engine.method), seconds: seconds, wall: wall,
                 communication: communication, workers: engine.workers.map(\.progress),
                 workerModels: engine.workers.map(\.parameters))
    }

    /// Worker steps in total when every worker is done.
    package var targetSteps: Int { settings.steps * settings.engine.workers + stepOffset }

    /// What the progress display is told: worker steps in total against the target, and the images per second of
    /// the run's own clock (virtual on the simulator).
    package func progress(done: Int, seconds: Double, loss: Double) -> TrainingProgress {
        let samples = done * settings.batch
        return TrainingProgress(step: done, targetSteps: targetSteps, epoch: Double(samples) / Double(data.train.count),
                                epochTarget: nil, seconds: seconds, minutesTarget: nil, recentLoss: loss,
                                imagesPerSecond: Double(samples) / max(seconds, 1e-9), virtualTime: backend == .simulated)
    }

    /// Seconds of one worker step on this machine (median of 3, after one warm-up), on a copy of worker 0.
    package func measureStep() throws -> Double {
        let w = engine.workers[0]
        let x = FlatBuffer<Float>(copying: w.parameters), g = FlatBuffer<Float>(count: x.count)
        let saved = w.objective.randomState
        var times: [Double] = []
        for k in 0..<4 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = w.objective.lossAndGradient(at: x.readOnly, into: g.pointer)
            if k > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9) }
        }
        w.objective.randomState = saved        // the measurement must not shift the worker's data stream
        return times.sorted()[1]
    }

}

/// A flag set by one thread and read by another.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

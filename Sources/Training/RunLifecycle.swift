// One run's lifecycle, whatever executes it. The lifecycle owns the run directory's lock, the records, the
// evaluation schedule (every N steps or S seconds, and the sharpness measurements), the checkpoint cadence, the
// stop signals and the final record and status; an executor owns the model and how steps are taken:
//   sequential  TrainingRun (this module): one model, one step at a time
//   simulated   Engine's SimulatedExecutor: p workers on a virtual clock, one event at a time
//   threads     Engine's ThreadsExecutor: p worker threads, snapshots taken at the scheduled step counts
//   mpi         EngineMPI's MPIMaster: rank 0 serving p worker ranks
// The executor trains until its budget is done or the lifecycle asks it to pause (a signal, or a checkpoint
// due), asking the lifecycle at each step whether an evaluation is due and handing it a snapshot when one is.
// What divergence means is the executor's policy: one model stops the run; a parallel worker drops out.

import Elastic
import Records
import Foundation

/// How a run treats a loss, model or state that is no longer finite.
public enum DivergencePolicy: Sendable {
    /// One model (sequential runs): the run stops, keeping its last checkpoint; no record of a non-finite model
    /// is kept.
    case stopRun
    /// p workers: the engine stops a worker that is no longer finite and the others go on; every evaluation is
    /// recorded, and the run has diverged when none is left or the evaluated model is no longer finite.
    case dropWorker
}

/// Why the lifecycle wants an executor to stop stepping.
public enum Pause: Equatable, Sendable {
    /// A stop signal: checkpoint and end.
    case signal(Int32)
    /// The periodic checkpoint: checkpoint and go on.
    case checkpoint
}

/// Why an executor handed control back to the lifecycle.
public enum ExecutorStop: Equatable, Sendable {
    /// Every step of the budget is taken (or every worker has stopped).
    case budgetDone
    /// The lifecycle asked for a pause and the state is consistent (every worker between two steps).
    case paused(Pause)
    /// One model stopped being finite (policy `stopRun`).
    case diverged(step: Int, reason: String)
}

/// What an evaluation is made of: the model and the progress it stands for (a record whose losses and error the
/// lifecycle fills in), with each worker's model for `--sharpness-of workers` where it can be read safely.
public struct Snapshot {
    public var model: FlatBuffer<Float>
    public var progress: MetricRecord
    public var workerModels: [FlatBuffer<Float>]?
    /// The step count the sharpness schedule goes by, when it differs from the record's (a threads snapshot).
    public var countedSteps: Int?
    /// The step count whose learning rate the record shows, when it differs from the record's (the workers' mean
    /// clock of a parallel run).
    public var rateStep: Int?

    public init(model: FlatBuffer<Float>, progress: MetricRecord, workerModels: [FlatBuffer<Float>]? = nil, countedSteps: Int? = nil,
                rateStep: Int? = nil) {
        self.model = model
        self.progress = progress
        self.workerModels = workerModels
        self.countedSteps = countedSteps
        self.rateStep = rateStep
    }
}

/// The small protocol every backend implements.
public protocol RunExecutor: AnyObject {
    var policy: DivergencePolicy { get }
    /// Steps so far: a sequential run's, or every worker's in total (the records' `step`).
    var steps: Int { get }
    /// Before the first record: write the config, start the workers' machinery.
    func prepare(_ run: RunLifecycle) throws
    /// Trains until the budget is done, `run.pauseWanted()` asks for a pause, or (`stopRun`) the model diverges;
    /// hands `run` a snapshot whenever `run.evaluationDue` says so.
    func advance(_ run: RunLifecycle) throws -> ExecutorStop
    /// The model now and the progress it stands for.
    func snapshot(_ run: RunLifecycle) throws -> Snapshot
    /// Why the state cannot be checkpointed now (it is no longer finite), or nil.
    var uncheckpointable: String? { get }
    /// Writes the whole state to the run's checkpoint, counting `run.records`.
    func writeCheckpoint(_ run: RunLifecycle) throws
    /// How a run that was not stopped by a signal or by divergence ended (a parallel run whose every worker
    /// stopped has diverged).
    func status(_ outcome: RunOutcome, records: [MetricRecord]) -> RunStatus
    /// After the final checkpoint (an MPI master tells its workers to end).
    func end(_ outcome: RunOutcome) throws
}

extension RunExecutor {
    public func end(_ outcome: RunOutcome) throws {}
}

public final class RunLifecycle {
    public let directory: String
    /// The test set's evaluator, and the fixed training subset's (the first 1,000 training images, centre crop,
    /// dropout off): the `test_loss`/`test_error` and `train_loss` of every record.
    public let evaluator: Evaluator
    public let trainEvaluator: Evaluator
    public private(set) var records: [MetricRecord] = []
    /// Binds the run's checkpoints to it (config.json's runID): new for a new run, kept by a resumed one.
    public var runID = UUID().uuidString
    /// Set when a resumed run's checkpoint has been restored.
    public private(set) var resumed = false
    public private(set) var lastCheckpointStep = 0
    /// What a caller sees while the run goes: the progress after each step and each record.
    public var progress: (TrainingProgress) -> Void = { _ in }
    public var log: (MetricRecord) -> Void = { _ in }

    private let lock: DirectoryLock
    private var schedule: EvaluationSchedule
    private let sharpnessProbe: SharpnessProbe?
    private let sharpnessEvery: Int?
    private let sharpnessOfWorkers: Bool
    /// The step count of the last sharpness measurement (as the executor counted it).
    private var sharpnessSteps: Int?
    private var checkpoints: Periodic
    /// The run's learning rate (each record says the one in force), and the plateau rule's state, which the
    /// evaluations move (on a background tester's thread for MPI, hence the lock).
    private var learningRate: LearningRate?
    private var plateau: PlateauState?
    private let rateLock = NSLock()
    private let checkpointMinutes: Double?
    /// Wall seconds of the run before this process (from the checkpoint), and this process's clock.
    public private(set) var wallAtStart = 0.0
    private var stopwatch = Stopwatch()

    /// Takes the directory's lock (`RunFiles.claim`): call it last when building a run, after everything that can
    /// refuse it, so that a refused run leaves no directory behind.
    public init(directory: String, resuming: Bool, evaluator: Evaluator, trainEvaluator: Evaluator,
                evaluations: EvaluationInterval, checkpointEveryMinutes: Double?, sharpness: SharpnessProbe?, sharpnessEvery: Int?,
                sharpnessOfWorkers: Bool = false) throws {
        self.directory = directory
        self.evaluator = evaluator
        self.trainEvaluator = trainEvaluator
        schedule = EvaluationSchedule(evaluations)
        sharpnessProbe = sharpness
        self.sharpnessEvery = sharpnessEvery
        self.sharpnessOfWorkers = sharpnessOfWorkers
        checkpointMinutes = checkpointEveryMinutes
        checkpoints = Periodic(minutes: checkpointEveryMinutes, now: 0)
        lock = try RunFiles.claim(directory, resuming: resuming)
    }

    /// The run's learning rate, for the records and (a plateau schedule) the evaluations' rule. Call before
    /// `restore`.
    public func schedule(_ rate: LearningRate) {
        learningRate = rate
        if case .plateau(let factors, let patience) = rate.schedule.shape { plateau = PlateauState(factors: factors, patience: patience) }
    }

    /// The plateau schedule's scale of the learning rate now (1 for the other schedules).
    public var rateScale: Double {
        rateLock.lock()
        defer { rateLock.unlock() }
        return plateau?.scale ?? 1
    }

    /// A resumed run: the records its checkpoint counts (later ones are dropped when it starts), the step and the
    /// wall seconds it had reached. An evaluation schedule by steps goes on counting multiples of N from step 0
    /// (from the last multiple at or below `step`), as the run would have without the stop: the record a run writes
    /// at its budget's end, or a sharpness measurement's, does not move it, so a run continued past its budget
    /// (`--resume --steps`) evaluates where one trained straight does. A schedule by seconds goes on from the last
    /// record kept.
    public func restore(records saved: [MetricRecord], count: Int, step: Int, wallSeconds: Double) throws {
        guard saved.count >= count else {
            throw DataError("\(RunFiles.metricsJSONL(directory)): has \(saved.count) records, the checkpoint expects \(count)")
        }
        records = Array(saved.prefix(count))
        // The plateau rule's state is a function of the evaluations' losses: the kept records rebuild it.
        for r in records { plateau?.observe(r.trainLoss ?? .nan) }
        lastCheckpointStep = step
        wallAtStart = wallSeconds
        let lastScheduled = schedule.interval.steps.map { step / $0 * $0 } ?? records.last?.step ?? 0
        schedule = EvaluationSchedule(schedule.interval, lastSteps: lastScheduled, lastSeconds: records.last?.seconds ?? 0)
        resumed = true
    }

    /// Wall seconds since the run started, over every process that ran it.
    public func wall() -> Double { wallAtStart + stopwatch.seconds }

    /// The evaluations' interval.
    public var evaluationInterval: EvaluationInterval { schedule.interval }

    // MARK: The run

    /// Runs `executor` until its budget is done, a signal stops it or it diverges; status.json says how it ended,
    /// and the directory is given up.
    public func run(_ executor: some RunExecutor) throws -> RunOutcome {
        defer { lock.release() }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try RunFiles.clearStatus(directory)
        let outcome = try drive(executor)
        try RunFiles.writeStatus(executor.status(outcome, records: records), to: directory)
        try executor.end(outcome)
        return outcome
    }

    private func drive(_ executor: some RunExecutor) throws -> RunOutcome {
        try executor.prepare(self)
        // The run's clock starts once the executor is ready (an MPI master's workers have loaded their data).
        stopwatch = Stopwatch()
        checkpoints = Periodic(minutes: checkpointMinutes, now: wall())
        if resumed {
            try RunFiles.writeMetrics(records, to: directory)     // drop the records made after the checkpoint
        } else {
            // The starting point, at time 0 on every clock (the run's, the host's, the workers' communication).
            var start = try executor.snapshot(self)
            start.progress.seconds = 0
            start.progress.wallSeconds = 0
            if start.progress.communicationSeconds != nil { start.progress.communicationSeconds = 0 }
            guard try record(start, policy: executor.policy) else {
                return .diverged(step: 0, reason: "the initial test loss is not finite", lastCheckpointStep: 0)
            }
            try checkpoint(executor)          // a run can be resumed from its first step on
        }
        loop: while true {
            switch try executor.advance(self) {
            case .budgetDone:
                break loop
            case .diverged(let step, let reason):
                return .diverged(step: step, reason: reason, lastCheckpointStep: lastCheckpointStep)
            case .paused(.signal(let signal)):
                if executor.uncheckpointable == nil { try checkpoint(executor) }
                return .interrupted(signal: signal)
            case .paused(.checkpoint):
                if let reason = executor.uncheckpointable {
                    return .diverged(step: executor.steps, reason: reason, lastCheckpointStep: lastCheckpointStep)
                }
                try checkpoint(executor)
            }
        }
        if records.last?.step != executor.steps { _ = try record(executor.snapshot(self), policy: executor.policy) }
        if executor.uncheckpointable == nil { try checkpoint(executor) }
        return .completed
    }

    private func checkpoint(_ executor: some RunExecutor) throws {
        try executor.writeCheckpoint(self)
        lastCheckpointStep = executor.steps
    }

    // MARK: What executors ask

    /// A stop signal, or the periodic checkpoint (which then counts as taken): the executor should bring every
    /// worker to a halt between two steps and return `.paused`.
    public func pauseWanted() -> Pause? {
        if let signal = StopSignal.pending { return .signal(signal) }
        return checkpoints.due(now: wall()) ? .checkpoint : nil
    }

    /// Whether `steps` (at `seconds` of the run's clock) calls for an evaluation: the schedule's (which then moves
    /// on) or a sharpness measurement's.
    public func evaluationDue(steps: Int, seconds: Double) -> Bool {
        schedule.due(steps: steps, seconds: seconds) || sharpnessDue(steps: steps)
    }

    /// The next step count after a total at which an evaluation or a sharpness measurement falls due (nil: none
    /// is scheduled by steps), for executors that take snapshots at exact counts on other threads: the rule as it
    /// stands now (a schedule by steps does not move while such an executor runs; `secondsEvaluationDue` does the
    /// rest).
    public var scheduledSteps: @Sendable (Int) -> Int? {
        let schedule = self.schedule, every = sharpnessEvery
        return { total in [schedule.nextStep(after: total), every.map { (total / $0 + 1) * $0 }].compactMap { $0 }.min() }
    }

    /// Whether an evaluation every S seconds is due at `seconds` (false for evaluations by steps).
    public func secondsEvaluationDue(steps: Int, seconds: Double) -> Bool {
        schedule.interval.seconds != nil && schedule.due(steps: steps, seconds: seconds)
    }

    /// Whether a record at `steps` is due a sharpness measurement: the steps have reached the next multiple of
    /// `sharpnessEvery` after the last record that has one (step 0 included).
    public func sharpnessDue(steps: Int) -> Bool {
        guard let n = sharpnessEvery else { return false }
        guard let last = sharpnessSteps ?? records.last(where: { $0.sharpness != nil })?.step else { return true }
        return steps >= (last / n + 1) * n
    }

    /// Evaluates the snapshot, appends its record, rewrites the metrics files and tells `log`. With `stopRun`, a
    /// model or test loss that is not finite is not recorded and false is returned.
    @discardableResult
    public func record(_ snapshot: Snapshot, policy: DivergencePolicy = .dropWorker) throws -> Bool {
        guard let record = try append(snapshot, policy: policy) else { return false }
        log(record)
        return true
    }

    /// `record` without telling `log` (a background tester's thread; its caller logs the record).
    public func append(_ snapshot: Snapshot, policy: DivergencePolicy = .dropWorker) throws -> MetricRecord? {
        var record = snapshot.progress
        (record.testLoss, record.testError) = evaluator.evaluate(snapshot.model)
        if policy == .stopRun, !(record.testLoss.isFinite && snapshot.model.isFinite) { return nil }
        record.trainLoss = trainEvaluator.evaluate(snapshot.model).loss
        let counted = snapshot.countedSteps ?? record.step
        if let sharpnessProbe, sharpnessDue(steps: counted) {
            sharpnessSteps = max(counted, record.step)
            let m = sharpnessProbe.measure(snapshot.model)
            record.sharpness = m.value
            record.sharpnessSeconds = m.seconds
            if sharpnessOfWorkers, let models = snapshot.workerModels {
                record.workerSharpness = models.map { let v = sharpnessProbe.measure($0).value; return v.isFinite ? v : nil }
            }
        }
        if let learningRate {
            rateLock.lock()
            plateau?.observe(record.trainLoss ?? .nan)
            record.learningRate = learningRate.at(snapshot.rateStep ?? record.step, scale: plateau?.scale ?? 1)
            rateLock.unlock()
        }
        records.append(record)
        try RunFiles.writeMetrics(records, to: directory)
        return record
    }
}

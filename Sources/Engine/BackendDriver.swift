// The one seam between a parallel training run and the machinery that runs it. The run's lifecycle (Training's
// RunLifecycle) owns the evaluation schedule, the periodic and the signal checkpoints, the final record and the
// status; each backend is an executor under it. The CLI (or any caller) makes one call, `driver.run(...)`;
// which algorithms a backend can run is stated once, here.
//   simulated  one thread, a virtual clock of p devices (SimulatedExecutor)
//   threads    one thread per worker, a tester on the caller's thread (ThreadsExecutor)
//   mpi        rank 0 the master and tester, ranks 1…p the workers (EngineMPI's MPIDriver and MPIMaster)

import Records
import Elastic
import Training

/// What a caller sees of a run while it goes: its start, the progress after each step, and each evaluation.
public struct RunObserver {
    public var started: (ParallelTrainingRun) -> Void
    public var progress: (TrainingProgress) -> Void
    public var record: (MetricRecord) -> Void

    public init(started: @escaping (ParallelTrainingRun) -> Void = { _ in },
                progress: @escaping (TrainingProgress) -> Void = { _ in },
                record: @escaping (MetricRecord) -> Void = { _ in }) {
        self.started = started
        self.progress = progress
        self.record = record
    }
}

public protocol BackendDriver {
    var backend: Backend { get }
    /// Runs the parallel run that `make` builds (a new one or a resumed one), in this process's role, until
    /// every live worker has taken its steps or a stop signal arrives (then the whole system is checkpointed).
    /// Returns the run and how it ended, or nil in a process that only serves a run driven elsewhere (an MPI
    /// worker rank).
    func run(_ make: () throws -> ParallelTrainingRun, observer: RunObserver) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)?
}

extension BackendDriver {
    /// Builds the run and refuses one made for another backend.
    public func make(_ make: () throws -> ParallelTrainingRun) throws -> ParallelTrainingRun {
        let run = try make()
        guard run.backend == backend else {
            throw SettingsError("\(run.directory) is a \(run.backend.rawValue) run: continue it on that backend (not \(backend.rawValue)\(backend == .mpi ? ", so without mpirun" : ""))")
        }
        return run
    }

    /// The common case: build the run here and drive it here, under its lifecycle.
    func drive(_ make: () throws -> ParallelTrainingRun, observer: RunObserver,
               _ executor: (ParallelTrainingRun) -> some RunExecutor) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)? {
        let run = try self.make(make)
        observer.started(run)
        ComputeThreads.set(1)        // one compute thread per worker
        return (run, try run.lifecycle.run(executor(run), observer: observer))
    }
}

extension RunLifecycle {
    /// Runs `executor` with the observer's progress and records.
    public func run(_ executor: some RunExecutor, observer: RunObserver) throws -> RunOutcome {
        progress = observer.progress
        log = observer.record
        return try run(executor)
    }
}

/// What the executors of p workers share: workers drop out when they stop being finite, the steps are every
/// worker's, the state is always checkpointable, and the status says whether any worker is left.
public protocol ParallelExecutor: RunExecutor {
    var run: ParallelTrainingRun { get }
}

extension ParallelExecutor {
    public var policy: DivergencePolicy { .dropWorker }
    public var steps: Int { run.totalSteps }
    public var uncheckpointable: String? { nil }
    public func status(_ outcome: RunOutcome, records: [MetricRecord]) -> RunStatus { run.status(outcome) }
}

// The threads backend's executor: one thread per worker, and the tester on the caller's thread, which records
// the snapshots the workers take at the scheduled step counts (and, for evaluations every S seconds, one of its
// own under the master's lock). A checkpoint needs every worker between two steps, so for one the workers are
// paused, the lifecycle writes it, and they go on. Time is the wall clock.

import Dispatch
import Foundation
import Training

public struct ThreadsDriver: BackendDriver {
    public init() {}
    public var backend: Backend { .threads }

    public func run(_ make: () throws -> ParallelTrainingRun, observer: RunObserver) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)? {
        try drive(make, observer: observer) { ThreadsExecutor(run: $0) }
    }
}

public final class ThreadsExecutor: ParallelExecutor {
    public let run: ParallelTrainingRun
    private var threads: ThreadsBackend<Float>!
    /// Worker steps in total when this process started, the model copied for the tester, the workers' mean loss
    /// and when it was last read.
    private var startSteps = 0
    private var model: FlatBuffer<Float>
    private var loss = Double.nan, lossRead = -1.0

    public init(run: ParallelTrainingRun) {
        self.run = run
        model = FlatBuffer<Float>(count: run.engine.master.center.count)
    }

    /// The run's seconds and communication so far, over every process that ran it.
    private func clock(_ lifecycle: RunLifecycle) -> WallClock {
        WallClock(elapsed: lifecycle.wall(), communication: (run.wallClockAtStart.communication ?? 0) + threads.communicationSeconds.reduce(0, +))
    }

    /// Evaluations every N steps and sharpness measurements fall on their scheduled step counts: the worker that
    /// reaches one takes the snapshot (ThreadsBackend.scheduleSnapshots).
    public func prepare(_ lifecycle: RunLifecycle) throws {
        try run.writeConfig(measuredComputeSeconds: nil)
        threads = ThreadsBackend(engine: run.engine)
        startSteps = run.totalSteps
        let start = startSteps, target = run.targetSteps, scheduled = lifecycle.scheduledSteps
        @Sendable func next(after total: Int) -> Int? { scheduled(total).flatMap { $0 < target ? $0 : nil } }
        threads.scheduleSnapshots(first: next(after: start).map { $0 - start }) { count in next(after: start + count).map { $0 - start } }
    }

    public func advance(_ lifecycle: RunLifecycle) throws -> ExecutorStop {
        let pause = ManagedFlag(), finished = ManagedFlag(), group = DispatchGroup()
        let threads = self.threads!, steps = run.settings.steps, target = run.targetSteps
        DispatchQueue.global().async(group: group) {
            threads.run(untilClock: steps, shouldStop: { StopSignal.pending != nil || pause.isSet })
            finished.set()
        }
        let communicationBefore = run.wallClockAtStart.communication ?? 0
        /// Records the oldest snapshot a worker took, if there is one.
        func recordTaken() throws -> Bool {
            guard let exact = threads.takeSnapshot(into: model) else { return false }
            let communication = communicationBefore + exact.progress.reduce(0) { $0 + $1.communication }
            let taken = lifecycle.wall() - exact.age         // the run's time when the worker took it
            try lifecycle.record(run.snapshot(model: model, seconds: taken, wall: taken, communication: communication,
                                              workers: exact.progress, countedSteps: startSteps + exact.steps))
            return true
        }
        var idle = false
        while !finished.isSet {
            if idle { usleep(2_000) }
            let done = startSteps + threads.completedSteps, seconds = lifecycle.wall()
            if seconds - lossRead >= 0.25 {         // the workers' own losses, a few times a second
                var published: [WorkerProgress] = []
                threads.withMaster { published = threads.published }
                loss = published.meanLoss ?? .nan
                lossRead = seconds
            }
            lifecycle.progress(run.progress(done: done, seconds: seconds, loss: loss))
            // One snapshot per round, so that a tester as busy as the workers make it (evaluations due faster than
            // it evaluates) still passes on a plateau's cut and a checkpoint's pause between two of them. The state
            // after the last step is evaluated once every worker has joined (the lifecycle's final record).
            idle = try !recordTaken()
            if done < target, lifecycle.secondsEvaluationDue(steps: done, seconds: seconds) {
                var progress: [WorkerProgress] = []
                threads.withMaster {
                    model.copy(from: run.engine.master.model(run.settings.engine.method))
                    progress = threads.published
                }
                let communication = communicationBefore + progress.reduce(0) { $0 + $1.communication }
                try lifecycle.record(run.snapshot(model: model, seconds: seconds, wall: seconds, communication: communication,
                                                  workers: progress, countedSteps: done))
            }
            run.engine.rateScale = lifecycle.rateScale      // a plateau's cut reaches the workers' next steps
            if !pause.isSet, lifecycle.pauseWanted() != nil { pause.set() }
        }
        while try recordTaken() {}          // snapshots the workers took before they stopped (a pause, or the end)
        group.wait()          // after this the workers' state may be read freely
        if let signal = StopSignal.pending { return .paused(.signal(signal)) }
        return pause.isSet ? .paused(.checkpoint) : .budgetDone
    }

    /// The center after every step (the workers have joined).
    public func snapshot(_ lifecycle: RunLifecycle) -> Snapshot {
        let end = clock(lifecycle)
        return run.snapshot(seconds: end.elapsed, wall: end.elapsed, communication: end.communication ?? 0)
    }

    public func writeCheckpoint(_ lifecycle: RunLifecycle) throws { try run.writeCheckpoint(wall: clock(lifecycle)) }
}

// The threads backend's drive loop: one thread per worker, and the tester on the caller's thread, which
// evaluates a snapshot of the model taken under the master's lock. A checkpoint needs every worker between two
// steps, so for one the tester pauses them all, writes it, and lets them go on. Time is the wall clock.

import Dispatch
import Foundation
import Training

public struct ThreadsDriver: BackendDriver {
    public init() {}
    public var backend: Backend { .threads }

    public func run(_ make: () throws -> ParallelTrainingRun, observer: RunObserver) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)? {
        try drive(make, observer: observer) { run in
            let settings = run.settings, engine = run.engine
            let stopwatch = Stopwatch()
            func wall() -> Double { stopwatch.seconds }
            let engineStartSteps = run.totalSteps
            try run.writeConfig(measuredComputeSeconds: nil)
            let threads = ThreadsBackend(engine: engine)
            let before = run.wallClockAtStart
            func now() -> Double { before.elapsed + wall() }
            func clock() -> WallClock {
                WallClock(elapsed: now(), communication: (before.communication ?? 0) + threads.communicationSeconds.reduce(0, +))
            }
            try run.startRecords(log: observer.record)
            var evaluations = run.evaluationSchedule()
            var checkpoints = Periodic(minutes: settings.checkpointEveryMinutes, now: wall())
            let snapshot = FlatBuffer<Float>(count: engine.master.center.count)
            let steps = settings.steps, target = run.targetSteps
            var loss = Double.nan, lossRead = -1.0
            // Evaluations every N steps and sharpness measurements fall on their scheduled step counts: the worker
            // that reaches one takes the snapshot (ThreadsBackend.scheduleSnapshots). Evaluations every S seconds are
            // taken by the tester when it finds them due.
            let schedule = evaluations, every = settings.evalEvery.steps, sharpnessEvery = settings.sharpnessEvery
            @Sendable func next(after total: Int) -> Int? {
                let due = [schedule.nextStep(after: total), ParallelTrainingRun.nextSharpnessStep(after: total, every: sharpnessEvery)]
                    .compactMap { $0 }.min()
                return due.flatMap { $0 < target ? $0 : nil }
            }
            threads.scheduleSnapshots(first: next(after: engineStartSteps).map { $0 - engineStartSteps }) { count in
                next(after: engineStartSteps + count).map { $0 - engineStartSteps }
            }
            while true {
                let pause = ManagedFlag(), finished = ManagedFlag(), group = DispatchGroup()
                DispatchQueue.global().async(group: group) {
                    threads.run(untilClock: steps, shouldStop: { StopSignal.pending != nil || pause.isSet })
                    finished.set()
                }
                while !finished.isSet {
                    usleep(2_000)
                    let done = engineStartSteps + threads.completedSteps, seconds = now()
                    if seconds - lossRead >= 0.25 {         // the workers' own losses, a few times a second
                        var published: [WorkerProgress] = []
                        threads.withMaster { published = threads.published }
                        loss = published.meanLoss ?? .nan
                        lossRead = seconds
                    }
                    observer.progress(run.progress(done: done, seconds: seconds, loss: loss))
                    // The state after the last step is evaluated once every worker has joined (below).
                    while let exact = threads.takeSnapshot(into: snapshot) {
                        let communication = (before.communication ?? 0) + exact.progress.reduce(0) { $0 + $1.communication }
                        let taken = now() - exact.age         // the run's time when the worker took it
                        observer.record(try run.appendRecord(model: snapshot, seconds: taken, wall: taken,
                                                             communication: communication, workers: exact.progress,
                                                             countedSteps: engineStartSteps + exact.steps))
                    }
                    if every == nil, done < target, evaluations.due(steps: done, seconds: seconds) {
                        var progress: [WorkerProgress] = []
                        threads.withMaster {
                            snapshot.copy(from: engine.master.model(settings.engine.method))
                            progress = threads.published
                        }
                        let communication = (before.communication ?? 0) + progress.reduce(0) { $0 + $1.communication }
                        observer.record(try run.appendRecord(model: snapshot, seconds: seconds, wall: seconds,
                                                             communication: communication, workers: progress,
                                                             countedSteps: done))
                    }
                    if checkpoints.due(now: wall()) { pause.set() }
                }
                group.wait()          // after this the workers' state may be read freely
                if let sig = StopSignal.pending {
                    try run.writeCheckpoint(wall: clock())
                    return .interrupted(signal: sig)
                }
                guard pause.isSet else { break }
                try run.writeCheckpoint(wall: clock())
            }
            let end = clock()
            try run.recordFinal(seconds: end.elapsed, wall: end.elapsed, communication: end.communication ?? 0, log: observer.record)
            try run.writeCheckpoint(wall: clock())
            return .completed
        }
    }
}

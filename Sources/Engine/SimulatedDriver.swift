// The simulated backend's drive loop: one event at a time on the virtual clock; the tester evaluates at the
// frontier every worker has reached; checkpoints hold the simulator's clocks, so a resumed run is bit-identical
// (and the host seconds so far, so that its wall_seconds go on rather than start again).

import Training

public struct SimulatedDriver: BackendDriver {
    public init() {}
    public var backend: Backend { .simulated }

    public func run(_ make: () throws -> ParallelTrainingRun, observer: RunObserver) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)? {
        try drive(make, observer: observer) { run in
            let settings = run.settings, engine = run.engine
            let stopwatch = Stopwatch()
            let before = run.wallClockAtStart.elapsed        // a resumed run's records go on from its seconds
            func wall() -> Double { before + stopwatch.seconds }
            func clock() -> WallClock { WallClock(elapsed: wall(), communication: nil) }
            let computeSeconds = try settings.computeSeconds ?? run.measureStep()
            run.computeSeconds = computeSeconds
            try run.writeConfig(measuredComputeSeconds: computeSeconds)
            let sim = SimulatedBackend(engine: engine, costs: VirtualCosts(compute: computeSeconds, communication: settings.communicationSeconds,
                                                                              links: settings.links),
                                       schedule: settings.schedule)
            if let clocks = run.restoredSimulator { sim.simulatorState = clocks }
            let checkpoint = RunFiles.checkpoint(run.directory)
            try run.startRecords(log: observer.record)
            var evaluations = run.evaluationSchedule()
            var checkpoints = Periodic(minutes: settings.checkpointEveryMinutes, now: wall())
            while engine.aliveWorkers > 0 && engine.workers.contains(where: { $0.alive && $0.clock < settings.steps }) {
                if checkpoints.due(now: wall()) { try sim.writeCheckpoint(to: checkpoint, wall: clock(), metricsCount: run.records.count, runID: run.runID) }
                if let sig = StopSignal.pending {
                    try sim.writeCheckpoint(to: checkpoint, wall: clock(), metricsCount: run.records.count, runID: run.runID)
                    return .interrupted(signal: sig)
                }
                sim.run(events: 1)
                observer.progress(run.progress(done: run.totalSteps, seconds: sim.now,
                                               loss: engine.workers.map(\.progress).meanLoss ?? .nan))
                if evaluations.due(steps: run.totalSteps, seconds: sim.frontier) || run.sharpnessDue(steps: run.totalSteps) {
                    observer.record(try run.recordModel(seconds: sim.now, wall: wall(), communication: sim.communicationTime))
                }
            }
            try run.recordFinal(seconds: sim.now, wall: wall(), communication: sim.communicationTime, log: observer.record)
            try sim.writeCheckpoint(to: checkpoint, wall: clock(), metricsCount: run.records.count, runID: run.runID)
            return .completed
        }
    }
}

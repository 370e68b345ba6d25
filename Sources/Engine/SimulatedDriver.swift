// The simulated backend's executor: one event at a time on the virtual clock; the tester evaluates at the
// frontier every worker has reached; checkpoints hold the simulator's clocks, so a resumed run is bit-identical
// (and the host seconds so far, so that its wall_seconds go on rather than start again).

import Training

public struct SimulatedDriver: BackendDriver {
    public init() {}
    public var backend: Backend { .simulated }

    public func run(_ make: () throws -> ParallelTrainingRun, observer: RunObserver) throws -> (run: ParallelTrainingRun, outcome: RunOutcome)? {
        try drive(make, observer: observer) { SimulatedExecutor(run: $0) }
    }
}

public final class SimulatedExecutor: ParallelExecutor {
    public let run: ParallelTrainingRun
    private var sim: SimulatedBackend<Float>!

    public init(run: ParallelTrainingRun) { self.run = run }

    /// The virtual cost of a step (given, or measured once here), recorded in the config; the simulator with the
    /// clocks a resumed run's checkpoint held.
    public func prepare(_ lifecycle: RunLifecycle) throws {
        let settings = run.settings
        let computeSeconds = try settings.computeSeconds ?? run.measureStep()
        run.computeSeconds = computeSeconds
        try run.writeConfig(measuredComputeSeconds: computeSeconds)
        sim = SimulatedBackend(engine: run.engine, costs: VirtualCosts(compute: computeSeconds, communication: settings.communicationSeconds ?? 0,
                                                                          links: settings.links),
                               schedule: settings.simulatorOrder ?? .clock, orderSeed: settings.seed)
        if let clocks = run.restoredSimulator { sim.simulatorState = clocks }
    }

    public func advance(_ lifecycle: RunLifecycle) throws -> ExecutorStop {
        let engine = run.engine, steps = run.settings.steps
        // In random order a worker is drawn whatever its count, so the budget is p × steps worker steps in all (the
        // random-order scheme's activations); in the other orders each worker takes its steps.
        let random = sim.schedule == .random && !engine.settings.method.stepsTogether
        sim.budget = random ? nil : steps
        func budgetLeft() -> Bool {
            random ? engine.workers.reduce(0) { $0 + $1.clock } < steps * engine.workers.count
                : engine.workers.contains(where: { $0.alive && $0.clock < steps })
        }
        while engine.aliveWorkers > 0 && budgetLeft() {
            if let pause = lifecycle.pauseWanted() { return .paused(pause) }
            engine.rateScale = lifecycle.rateScale          // a plateau's cut applies from the next step on
            sim.run(events: 1)
            lifecycle.progress(run.progress(done: run.totalSteps, seconds: sim.now, loss: engine.workers.map(\.progress).meanLoss ?? .nan))
            if lifecycle.evaluationDue(steps: run.totalSteps, seconds: sim.frontier) { try lifecycle.record(snapshot(lifecycle)) }
        }
        return .budgetDone
    }

    /// The center at the simulator's now.
    public func snapshot(_ lifecycle: RunLifecycle) -> Snapshot {
        run.snapshot(seconds: sim.now, wall: lifecycle.wall(), communication: sim.communicationTime)
    }

    public func writeCheckpoint(_ lifecycle: RunLifecycle) throws {
        try sim.writeCheckpoint(to: RunFiles.checkpoint(run.directory), wall: WallClock(elapsed: lifecycle.wall(), communication: nil),
                                metricsCount: lifecycle.records.count, runID: lifecycle.runID)
    }
}

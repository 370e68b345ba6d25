// The whole system in one checkpoint file (the Training module's checksummed container): the master's center,
// velocity, average and ADMM copies and its clock and counters; every worker's parameters, velocity,
// accumulator, multiplier, clocks, liveness and its objective's random state; the simulator's virtual clocks; the
// seconds the run had run on the host's clock. A simulated run resumed from it is bit-identical to one
// that never stopped. A worker's part alone (`WorkerSnapshot` and `transferBuffers`) is also what the MPI
// backend sends between ranks.

import Foundation
import Training

struct EngineCheckpointState: Codable {
    var settings: EngineSettings
    var masterClock: Int
    var accepted: Int
    var rejected: Int
    var workers: [WorkerSnapshot]
    var stopped: [StoppedRecord]
    var simulator: SimulatorRecord?
    /// Records in the run's metrics.jsonl when the checkpoint was written (run directories only).
    var metricsCount: Int?
    /// Seconds of running so far on the host's clock (every backend; simulated checkpoints written before
    /// 2026-12-01 lack it), and on the wall-clock backends the seconds the workers spent communicating.
    var elapsedSeconds: Double?
    var communicationSeconds: Double?
    /// The run the checkpoint belongs to (config.json's runID; nil outside run directories and in checkpoints
    /// written before run ids).
    var runID: String?
    struct StoppedRecord: Codable {
        var worker: Int
        var clock: Int
        var reason: String
    }
    struct SimulatorRecord: Codable {
        var workerTimes: [Double]
        var now: Double
        var communicationTime: Double
        var nextRoundRobin: Int
        var serverFree: [Double]? = nil
        var orderState: UInt64? = nil
    }
}

/// One worker's clocks, liveness, last loss and its objective's random state (its buffers travel beside it).
public struct WorkerSnapshot: Codable, Equatable, Sendable {
    public var clock: Int
    public var exchanges: Int
    public var alive: Bool
    public var randomState: [UInt64]
    /// nil when the last loss was not finite (or there was none yet).
    public var lastLoss: Double?
}

/// The wall-clock seconds a run had run when its checkpoint was written (a simulated run's are the host's).
public struct WallClock: Sendable {
    public var elapsed: Double
    public var communication: Double?
    public init(elapsed: Double, communication: Double?) {
        self.elapsed = elapsed
        self.communication = communication
    }
}

extension WorkerState {
    public var snapshot: WorkerSnapshot {
        WorkerSnapshot(clock: clock, exchanges: exchanges, alive: alive, randomState: objective.randomState,
                       lastLoss: lastLoss.isFinite ? lastLoss : nil)
    }

    /// Takes over a snapshot's clocks, liveness, loss and random state (not the buffers).
    public func apply(_ s: WorkerSnapshot) {
        clock = s.clock
        exchanges = s.exchanges
        alive = s.alive
        lastLoss = s.lastLoss ?? .nan
        objective.randomState = s.randomState
    }

    /// The buffers that make up the worker's state, in a fixed order.
    public var transferBuffers: [FlatBuffer<Scalar>] { [parameters, velocity, accumulator, multiplier, residual, replyReference, sentReference] }
}

extension ParallelEngine where Scalar == Float {
    /// Every buffer of the system, by name; `worker` says whose a worker's buffers are (nil: the master's).
    var namedBuffers: [(name: String, buffer: FlatBuffer<Float>, worker: Int?)] {
        var list: [(String, FlatBuffer<Float>, Int?)] = [("center", master.center, nil), ("master.velocity", master.velocity, nil),
                                                         ("master.average", master.average, nil)]
        // Only a delayed DiLoCo run has it (checkpoints of every other run keep their list of buffers).
        if master.pending.count > 0 { list.append(("master.pending", master.pending, nil)) }
        for (j, b) in master.workerParameters.enumerated() { list.append(("master.x\(j)", b, nil)) }
        for (j, b) in master.workerMultipliers.enumerated() { list.append(("master.lambda\(j)", b, nil)) }
        for w in workers {
            list += [("w\(w.index).x", w.parameters, w.index), ("w\(w.index).v", w.velocity, w.index),
                     ("w\(w.index).acc", w.accumulator, w.index), ("w\(w.index).lambda", w.multiplier, w.index)]
            // Only a run with error feedback has one (every other run's checkpoint keeps its list of buffers).
            if w.residual.count > 0 { list.append(("w\(w.index).residual", w.residual, w.index)) }
            // Only a run with a compressed reply has one.
            if w.replyReference.count > 0 { list.append(("w\(w.index).reply", w.replyReference, w.index)) }
            // Only an EASGD or EAMSGD run with compression has one.
            if w.sentReference.count > 0 { list.append(("w\(w.index).sent", w.sentReference, w.index)) }
        }
        return list
    }

    func checkpointState(simulator: SimulatorState?, wall: WallClock? = nil, metricsCount: Int? = nil,
                         runID: String? = nil) -> EngineCheckpointState {
        EngineCheckpointState(
            settings: settings, masterClock: master.clock, accepted: master.accepted, rejected: master.rejected,
            workers: workers.map(\.snapshot),
            stopped: stopped.map { .init(worker: $0.worker, clock: $0.clock, reason: $0.reason) },
            simulator: simulator.map { .init(workerTimes: $0.workerTimes, now: $0.now, communicationTime: $0.communicationTime,
                                              nextRoundRobin: $0.nextRoundRobin, serverFree: $0.serverFree, orderState: $0.orderState) },
            metricsCount: metricsCount, elapsedSeconds: wall?.elapsed, communicationSeconds: wall?.communication, runID: runID)
    }

    /// Writes the whole system (and a simulated run's clocks, or a wall-clock run's seconds) atomically to `path`.
    func writeCheckpoint(to path: String, simulator: SimulatorState?, wall: WallClock? = nil, metricsCount: Int?,
                         runID: String? = nil) throws {
        try Checkpoint.write(checkpointState(simulator: simulator, wall: wall, metricsCount: metricsCount, runID: runID),
                             buffers: namedBuffers.map { ($0.name, $0.buffer) }, to: path)
    }

    /// Restores the whole system from `path`; returns the simulator clocks (or wall seconds) and the metrics
    /// count it holds. With `runID`, a checkpoint that names another run is refused before anything is restored.
    /// `savedSteps`: the workers' clocks in the checkpoint, summed (an elastic restart changes the sum).
    func restoreCheckpoint(from path: String, runID: String? = nil) throws -> (simulator: SimulatorState?, wall: WallClock?, metricsCount: Int?, savedSteps: Int) {
        let (state, buffers) = try Checkpoint.read(path, as: EngineCheckpointState.self)
        try RunFiles.checkBinding(checkpointRunID: state.runID, configRunID: runID, checkpoint: path)
        try restore(state, buffers: buffers, path: path)
        let sim = state.simulator.map { SimulatorState(workerTimes: $0.workerTimes, now: $0.now, communicationTime: $0.communicationTime,
                                                       nextRoundRobin: $0.nextRoundRobin, serverFree: $0.serverFree, orderState: $0.orderState) }
        let wall = state.elapsedSeconds.map { WallClock(elapsed: $0, communication: state.communicationSeconds) }
        return (sim, wall, state.metricsCount, state.workers.reduce(0) { $0 + $1.clock })
    }

    /// Restores the system. With another p than the checkpoint's (an elastic restart) the master (center, velocity,
    /// average, clock, counters) is restored as it was; workers 0 ..< min(p, p′) keep their state; new ones start
    /// from the center with zero velocity and accumulator, their own fresh data streams, and the clock of the
    /// furthest worker (so every worker's budget ends together); removed ones are dropped, with their stop records.
    func restore(_ state: EngineCheckpointState, buffers: [String: [Float]], path: String) throws {
        guard state.workers.count == state.settings.workers else {
            throw DataError("\(path): \(state.workers.count) workers, expected \(state.settings.workers)")
        }
        let elastic = state.settings.workers != settings.workers
        var comparable = state.settings
        // A resume may change the learning rate and its schedule (the run records the change in config.json).
        comparable.learningRate = settings.learningRate
        comparable.schedule = settings.schedule
        if elastic {
            comparable.workers = settings.workers
            comparable.alpha = settings.alpha
        }
        guard comparable.takenOnly == settings.takenOnly else {
            throw DataError("\(path): the checkpoint was written with other engine settings")
        }
        if elastic, !(master.workerParameters.isEmpty && master.workerMultipliers.isEmpty) {
            throw DataError("\(path): \(settings.method.rawValue) keeps per-worker state at the master; it resumes with its own p only")
        }
        let kept = min(state.workers.count, workers.count)
        for (name, buffer, worker) in namedBuffers where worker.map({ $0 < kept }) ?? true {
            guard let values = buffers[name], values.count == buffer.count else { throw DataError("\(path): missing or mis-sized buffer '\(name)'") }
            values.withUnsafeBufferPointer { if buffer.count > 0 { buffer.base.update(from: $0.baseAddress!, count: values.count) } }
        }
        master.clock = state.masterClock
        master.accepted = state.accepted
        master.rejected = state.rejected
        for (w, record) in zip(workers, state.workers) { w.apply(record) }
        let furthest = state.workers.map(\.clock).max() ?? 0
        for w in workers where w.index >= kept {
            w.parameters.copy(from: master.center)
            w.velocity.fill(0)
            w.accumulator.fill(0)
            w.multiplier.fill(0)
            w.residual.fill(0)
            if w.replyReference.count > 0 { w.replyReference.copy(from: master.center) }
            if w.sentReference.count > 0 { w.sentReference.copy(from: master.center) }     // x = s: nothing to send yet
            w.clock = furthest
            w.exchanges = 0
            w.alive = true
            w.lastLoss = .nan
        }
        restoreStopped(state.stopped.filter { $0.worker < workers.count }.map { ($0.worker, $0.clock, $0.reason) })
    }
}

/// The simulator's clocks, as saved.
package struct SimulatorState {
    var workerTimes: [Double]
    var now: Double
    var communicationTime: Double
    var nextRoundRobin: Int
    /// With a model of the server links, when each server is next free.
    var serverFree: [Double]? = nil
    /// Random order: the state of the stream that draws the workers.
    var orderState: UInt64? = nil
}

extension SimulatedBackend where Scalar == Float {
    /// Writes the whole system atomically to `path`, with the host's wall-clock seconds the run has taken so far
    /// (`wall`; a resumed run's records go on from them).
    public func writeCheckpoint(to path: String, wall: WallClock? = nil, metricsCount: Int? = nil, runID: String? = nil) throws {
        try engine.writeCheckpoint(to: path, simulator: simulatorState, wall: wall, metricsCount: metricsCount, runID: runID)
    }

    /// Restores the whole system from `path` into this (freshly built, same settings) simulator.
    @discardableResult
    public func restoreCheckpoint(from path: String) throws -> Int? {
        let (sim, _, metricsCount, _) = try engine.restoreCheckpoint(from: path)
        guard let sim else { throw DataError("\(path): no simulator clocks (not a simulated run)") }
        simulatorState = sim
        return metricsCount
    }
}

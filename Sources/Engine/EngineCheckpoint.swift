// The whole system in one checkpoint file (the Training module's checksummed container): the master's center,
// velocity, average and ADMM copies and its clock and counters; every worker's parameters, velocity,
// accumulator, multiplier, clocks, liveness and its objective's random state; and the simulator's virtual clocks.
// A simulated run resumed from it is bit-identical to one that never stopped.

import Foundation
import Training

struct EngineCheckpointState: Codable {
    var settings: EngineSettings
    var masterClock: Int
    var accepted: Int
    var rejected: Int
    var workers: [WorkerRecord]
    var stopped: [StoppedRecord]
    var simulator: SimulatorRecord?
    /// Records in the run's metrics.jsonl when the checkpoint was written (run directories only).
    var metricsCount: Int?

    struct WorkerRecord: Codable {
        var clock: Int
        var exchanges: Int
        var alive: Bool
        var randomState: [UInt64]
    }
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
    }
}

extension ParallelEngine where Scalar == Float {
    /// Every buffer of the system, by name.
    var namedBuffers: [(name: String, buffer: FlatBuffer<Float>)] {
        var list: [(String, FlatBuffer<Float>)] = [("center", master.center), ("master.velocity", master.velocity),
                                                   ("master.average", master.average)]
        for (j, b) in master.workerParameters.enumerated() { list.append(("master.x\(j)", b)) }
        for (j, b) in master.workerMultipliers.enumerated() { list.append(("master.lambda\(j)", b)) }
        for w in workers {
            list += [("w\(w.index).x", w.parameters), ("w\(w.index).v", w.velocity), ("w\(w.index).acc", w.accumulator),
                     ("w\(w.index).lambda", w.multiplier)]
        }
        return list
    }

    func checkpointState(simulator: SimulatorState?, metricsCount: Int? = nil) -> EngineCheckpointState {
        EngineCheckpointState(
            settings: settings, masterClock: master.clock, accepted: master.accepted, rejected: master.rejected,
            workers: workers.map { .init(clock: $0.clock, exchanges: $0.exchanges, alive: $0.alive, randomState: $0.objective.randomState) },
            stopped: stopped.map { .init(worker: $0.worker, clock: $0.clock, reason: $0.reason) },
            simulator: simulator.map { .init(workerTimes: $0.workerTimes, now: $0.now, communicationTime: $0.communicationTime,
                                              nextRoundRobin: $0.nextRoundRobin) },
            metricsCount: metricsCount)
    }

    /// Writes the whole system (and, for a simulated run, its clocks) atomically to `path`.
    func writeCheckpoint(to path: String, simulator: SimulatorState?, metricsCount: Int?) throws {
        try Checkpoint.write(checkpointState(simulator: simulator, metricsCount: metricsCount), buffers: namedBuffers, to: path)
    }

    /// Restores the whole system from `path`; returns the simulator clocks and the metrics count it holds.
    func restoreCheckpoint(from path: String) throws -> (simulator: SimulatorState?, metricsCount: Int?) {
        let (state, buffers) = try Checkpoint.read(path, as: EngineCheckpointState.self)
        try restore(state, buffers: buffers, path: path)
        let sim = state.simulator.map { SimulatorState(workerTimes: $0.workerTimes, now: $0.now, communicationTime: $0.communicationTime,
                                                       nextRoundRobin: $0.nextRoundRobin) }
        return (sim, state.metricsCount)
    }

    func restore(_ state: EngineCheckpointState, buffers: [String: [Float]], path: String) throws {
        guard state.settings == settings else { throw DataError("\(path): the checkpoint was written with other engine settings") }
        guard state.workers.count == workers.count else { throw DataError("\(path): \(state.workers.count) workers, expected \(workers.count)") }
        for (name, buffer) in namedBuffers {
            guard let values = buffers[name], values.count == buffer.count else { throw DataError("\(path): missing or mis-sized buffer '\(name)'") }
            values.withUnsafeBufferPointer { if buffer.count > 0 { buffer.base.update(from: $0.baseAddress!, count: values.count) } }
        }
        master.clock = state.masterClock
        master.accepted = state.accepted
        master.rejected = state.rejected
        for (w, record) in zip(workers, state.workers) {
            w.clock = record.clock
            w.exchanges = record.exchanges
            w.alive = record.alive
            w.objective.randomState = record.randomState
        }
        restoreStopped(state.stopped.map { ($0.worker, $0.clock, $0.reason) })
    }
}

/// The simulator's clocks, as saved.
struct SimulatorState {
    var workerTimes: [Double]
    var now: Double
    var communicationTime: Double
    var nextRoundRobin: Int
}

extension SimulatedBackend where Scalar == Float {
    /// Writes the whole system atomically to `path`.
    public func writeCheckpoint(to path: String, metricsCount: Int? = nil) throws {
        try engine.writeCheckpoint(to: path, simulator: simulatorState, metricsCount: metricsCount)
    }

    /// Restores the whole system from `path` into this (freshly built, same settings) simulator.
    @discardableResult
    public func restoreCheckpoint(from path: String) throws -> Int? {
        let (sim, metricsCount) = try engine.restoreCheckpoint(from: path)
        guard let sim else { throw DataError("\(path): no simulator clocks (not a simulated run)") }
        simulatorState = sim
        return metricsCount
    }
}

// The engine's update rules: one local step of one worker (with its exchange when due) and one synchronous step
// of all workers. Every rule is a sequence of `Elastic` calls; the master-side part runs inside `critical`, which
// a backend makes atomic (the simulator runs it directly; the threads backend holds the master's lock).
// The master never accepts a non-finite difference, push or gradient: the worker is stopped instead, and the
// center is left as it was.

import Elastic
import Foundation
import Training

public final class ParallelEngine<Scalar: NetworkScalar>: @unchecked Sendable {
    public let settings: EngineSettings
    public let master: MasterState<Scalar>
    public let workers: [WorkerState<Scalar>]
    /// Why workers were stopped, in the order it happened.
    public private(set) var stopped: [(worker: Int, clock: Int, reason: String)] = []
    private let stopLock = NSLock()

    /// All workers and the center start at `initial`; ADMM's multipliers start at 0.
    public init(settings: EngineSettings, objectives: [any Objective<Scalar>], initial: [Scalar]) {
        precondition(objectives.count == settings.workers, "one objective per worker")
        precondition(objectives.allSatisfy { $0.parameterCount == initial.count }, "objectives and initial point differ in size")
        self.settings = settings
        master = MasterState(settings: settings, count: initial.count)
        workers = objectives.enumerated().map { WorkerState(index: $0.offset, settings: settings, objective: $0.element) }
        initial.withUnsafeBufferPointer { start in
            master.center.base.update(from: start.baseAddress!, count: initial.count)
            if settings.method.evaluatesAverage { master.average.base.update(from: start.baseAddress!, count: initial.count) }
            for w in workers { w.parameters.base.update(from: start.baseAddress!, count: initial.count) }
            for copy in master.workerParameters { copy.base.update(from: start.baseAddress!, count: initial.count) }
        }
    }

    public var aliveWorkers: Int { workers.filter(\.alive).count }

    func restoreStopped(_ list: [(worker: Int, clock: Int, reason: String)]) {
        stopLock.lock()
        stopped = list
        stopLock.unlock()
    }

    private func stop(_ w: WorkerState<Scalar>, _ reason: String) {
        w.alive = false
        stopLock.lock()
        stopped.append((w.index, w.clock, reason))
        stopLock.unlock()
    }

    /// One local step of worker `w`; true if it communicated with the master.
    @discardableResult
    public func step(_ w: WorkerState<Scalar>, critical: (() -> Void) -> Void) -> Bool {
        guard w.alive else { return false }
        let s = settings
        let eta = Scalar(s.learningRate), decay = Scalar(s.weightDecay), delta = Scalar(s.momentum)
        let exchangeDue = w.clock % s.tau == 0
        var communicated = false
        switch s.method {
        case .easgd:
            let loss = gradient(w, at: w.parameters)
            guard loss.isFinite, w.gradient.isFinite else { stop(w, "non-finite loss or gradient"); return false }
            if exchangeDue {
                guard w.parameters.isFinite else { reject(w, "non-finite parameters"); return false }
                critical {
                    ElasticExchange.exchange(worker: w.parameters.pointer, center: master.center.pointer, alpha: Scalar(s.alpha))
                    master.accepted += 1
                }
                communicated = true
            }
            LocalStep.sgd(w.parameters.pointer, gradient: w.gradient.readOnly, learningRate: eta)
        case .eamsgd:
            Nesterov.lookahead(parameters: w.parameters.readOnly, velocity: w.velocity.readOnly, momentum: delta, into: w.lookahead.pointer)
            let loss = gradient(w, at: w.lookahead)
            guard loss.isFinite, w.gradient.isFinite else { stop(w, "non-finite loss or gradient"); return false }
            if exchangeDue {
                guard w.parameters.isFinite else { reject(w, "non-finite parameters"); return false }
                critical {
                    ElasticExchange.exchange(worker: w.parameters.pointer, center: master.center.pointer, alpha: Scalar(s.alpha))
                    master.accepted += 1
                }
                communicated = true
            }
            Nesterov.step(parameters: w.parameters.pointer, velocity: w.velocity.pointer, lookaheadGradient: w.gradient.readOnly,
                          learningRate: eta, momentum: delta)
        case .downpour, .adownpour, .mvadownpour:
            let loss = gradient(w, at: w.parameters)
            guard loss.isFinite, w.gradient.isFinite else { stop(w, "non-finite loss or gradient"); return false }
            Downpour.accumulate(w.accumulator.pointer, gradient: w.gradient.readOnly, learningRate: eta)
            LocalStep.sgd(w.parameters.pointer, gradient: w.gradient.readOnly, learningRate: eta)
            if (w.clock + 1) % s.tau == 0 {
                guard w.accumulator.isFinite else { reject(w, "non-finite accumulated update"); return false }
                critical {
                    Downpour.push(w.accumulator.pointer, into: master.center.pointer)
                    updateAverage()
                    master.clock += 1
                    master.accepted += 1
                    Downpour.pull(master.center.readOnly, into: w.parameters.pointer)
                }
                communicated = true
            }
        case .mdownpour:
            critical {
                Nesterov.lookahead(parameters: master.center.readOnly, velocity: master.velocity.readOnly, momentum: delta,
                                   into: w.lookahead.pointer)
            }
            let loss = gradient(w, at: w.lookahead)
            guard loss.isFinite, w.gradient.isFinite else { reject(w, "non-finite loss or gradient"); return false }
            critical {
                Nesterov.step(parameters: master.center.pointer, velocity: master.velocity.pointer, lookaheadGradient: w.gradient.readOnly,
                              learningRate: eta, momentum: delta)
                master.clock += 1
                master.accepted += 1
            }
            w.parameters.copy(from: w.lookahead)
            communicated = true
        case .admm:
            // The whole activation is one critical section: the worker reads the center, and the master
            // recomputes it from every worker's last (x_j, λ_j).
            critical {
                _ = gradient(w, at: w.parameters)
                ADMM.workerStep(multiplier: w.multiplier.pointer, parameters: w.parameters.pointer, center: master.center.readOnly,
                                gradient: w.gradient.readOnly, learningRate: eta, rho: Scalar(s.rho))
                master.workerParameters[w.index].copy(from: w.parameters)
                master.workerMultipliers[w.index].copy(from: w.multiplier)
                ADMM.updateCenter(master.center.pointer, parameters: master.workerParameters.map(\.readOnly),
                                  multipliers: master.workerMultipliers.map(\.readOnly))
                master.clock += 1
            }
            communicated = true
        case .syncEasgd:
            preconditionFailure("sync-easgd steps all workers at once: use synchronousStep")
        }
        if communicated { w.exchanges += 1 }
        w.clock += 1
        return communicated
    }

    /// One step of sync-EASGD: every live worker's gradient at its current point, then (every τ steps) the
    /// synchronous exchange from the same time step, then every local step.
    public func synchronousStep() {
        let s = settings
        precondition(s.method == .syncEasgd)
        let live = workers.filter(\.alive)
        for w in live {
            let loss = gradient(w, at: w.parameters)
            if !(loss.isFinite && w.gradient.isFinite && w.parameters.isFinite) { stop(w, "non-finite loss, gradient or parameters") }
        }
        let stepping = live.filter(\.alive)
        if let first = stepping.first, first.clock % s.tau == 0 {
            ElasticExchange.synchronousExchange(workers: stepping.map(\.parameters.pointer), center: master.center.pointer,
                                                alpha: Scalar(s.alpha))
            master.accepted += stepping.count
            for w in stepping { w.exchanges += 1 }
        }
        for w in stepping {
            LocalStep.sgd(w.parameters.pointer, gradient: w.gradient.readOnly, learningRate: Scalar(s.learningRate))
            w.clock += 1
        }
        master.clock += 1
    }

    private func gradient(_ w: WorkerState<Scalar>, at point: FlatBuffer<Scalar>) -> Double {
        let loss = w.objective.lossAndGradient(at: point.readOnly, into: w.gradient.pointer)
        LocalStep.addWeightDecay(w.gradient.pointer, parameters: point.readOnly, decay: Scalar(settings.weightDecay))
        w.lastLoss = loss
        return loss
    }

    private func reject(_ w: WorkerState<Scalar>, _ reason: String) {
        master.rejected += 1
        stop(w, reason + " (rejected by the master)")
    }

    /// ADOWNPOUR: z ← z + (x̃ − z)/(t + 1) with the master clock t; MVADOWNPOUR: a constant rate.
    private func updateAverage() {
        switch settings.method {
        case .adownpour:
            Averaging.update(average: master.average.pointer, parameters: master.center.readOnly,
                             rate: Averaging.runningMeanRate(after: master.clock))     // z = mean of x̃ after each update
        case .mvadownpour:
            Averaging.update(average: master.average.pointer, parameters: master.center.readOnly, rate: Scalar(settings.movingRate))
        default: break
        }
    }
}

// The engine's update rules: one local step of one worker (with its exchange when due) and one synchronous step
// of all workers. Every rule is a sequence of `Elastic` calls; the master-side part runs inside `critical`, which
// a backend makes atomic (the simulator runs it directly; the threads backend holds the master's lock).
// The master never accepts a non-finite difference, push or gradient: the worker is stopped instead, and the
// center is left as it was.

import Elastic
import Foundation
import Synchronization
import Training

public final class ParallelEngine<Scalar: NetworkScalar>: @unchecked Sendable {
    public let settings: EngineSettings
    public let master: MasterState<Scalar>
    public let workers: [WorkerState<Scalar>]
    /// Why workers were stopped, in the order it happened.
    public private(set) var stopped: [(worker: Int, clock: Int, reason: String)] = []
    private let stopLock = NSLock()
    /// Each step's learning rate: the schedule at the worker's clock (set before any worker runs; constant unless
    /// the run binds its schedule), times the plateau's scale (which the run's lifecycle may change while the
    /// workers run).
    public var learningRate: LearningRate
    private let scaleBits = Atomic<UInt64>(1.0.bitPattern)
    public var rateScale: Double {
        get { Double(bitPattern: scaleBits.load(ordering: .relaxed)) }
        set { scaleBits.store(newValue.bitPattern, ordering: .relaxed) }
    }
    /// The rate of worker `w`'s next step.
    public func rate(_ w: WorkerState<Scalar>) -> Double { learningRate.at(w.clock, scale: rateScale) }

    /// All workers and the center start at `initial`; ADMM's multipliers start at 0.
    public init(settings: EngineSettings, objectives: [any Objective<Scalar>], initial: [Scalar]) {
        precondition(objectives.count == settings.workers, "one objective per worker")
        precondition(objectives.allSatisfy { $0.parameterCount == initial.count }, "objectives and initial point differ in size")
        self.settings = settings
        learningRate = LearningRate(base: settings.learningRate, schedule: settings.schedule ?? .constant)
        master = MasterState(settings: settings, count: initial.count)
        workers = objectives.enumerated().map { WorkerState(index: $0.offset, settings: settings, objective: $0.element) }
        initial.withUnsafeBufferPointer { start in
            master.center.base.update(from: start.baseAddress!, count: initial.count)
            if settings.method.evaluatesAverage { master.average.base.update(from: start.baseAddress!, count: initial.count) }
            for w in workers {
                w.parameters.base.update(from: start.baseAddress!, count: initial.count)
                // A compressed reply is coded against the center the worker holds: at the start, the initial point.
                if w.replyReference.count > 0 { w.replyReference.base.update(from: start.baseAddress!, count: initial.count) }
                // A coded exchange's reference: the master knows the worker's starting point.
                if w.sentReference.count > 0 { w.sentReference.base.update(from: start.baseAddress!, count: initial.count) }
            }
            for copy in master.workerParameters { copy.base.update(from: start.baseAddress!, count: initial.count) }
        }
    }

    public var aliveWorkers: Int { workers.filter(\.alive).count }

    func restoreStopped(_ list: [(worker: Int, clock: Int, reason: String)]) {
        stopLock.lock()
        stopped = list
        stopLock.unlock()
    }

    /// Records that worker `w` stopped (on this process or on its own MPI rank) for `reason`.
    package func recordStop(_ w: WorkerState<Scalar>, reason: String) { stop(w, reason) }

    private func stop(_ w: WorkerState<Scalar>, _ reason: String) {
        w.alive = false
        stopLock.lock()
        stopped.append((w.index, w.clock, reason))
        stopLock.unlock()
    }

    /// One local step of worker `w`; true if it communicated with the master. ADMM is handled here (it needs
    /// every worker's state); the other methods run the shared `WorkerState.step` against the local master.
    @discardableResult
    @_specialize(exported: true, where Scalar == Float)
    public func step(_ w: WorkerState<Scalar>, critical: (() -> Void) -> Void) -> Bool {
        guard w.alive else { return false }
        if settings.method == .admm { return admmStep(w, critical: critical) }
        let outcome = withoutActuallyEscaping(critical) { critical in
            w.step(settings: settings, learningRate: rate(w), link: LocalMasterLink(master: master, critical: critical))
        }
        switch outcome {
        case .stepped(let communicated): return communicated
        case .stopped(let reason):
            stop(w, reason)
            return false
        }
    }

    /// Round-robin ADMM: the whole activation is one critical section. The worker reads the center, and the
    /// master recomputes it from every worker's last (x_j, λ_j).
    private func admmStep(_ w: WorkerState<Scalar>, critical: (() -> Void) -> Void) -> Bool {
        critical {
            _ = w.evaluate(at: w.parameters, decay: settings.weightDecay)
            ADMM.workerStep(multiplier: w.multiplier.pointer, parameters: w.parameters.pointer, center: master.center.readOnly,
                            gradient: w.gradient.readOnly, learningRate: Scalar(settings.learningRate), rho: Scalar(settings.rho))
            master.workerParameters[w.index].copy(from: w.parameters)
            master.workerMultipliers[w.index].copy(from: w.multiplier)
            ADMM.updateCenter(master.center.pointer, parameters: master.workerParameters.map(\.readOnly),
                              multipliers: master.workerMultipliers.map(\.readOnly))
            master.clock += 1
        }
        w.exchanges += 1
        w.clock += 1
        return true
    }

    /// One step of every live worker at once (sync-EASGD, DiLoCo); true when it communicated.
    /// Sync-EASGD: every live worker's gradient at its current point, then (every τ steps) the synchronous exchange
    /// from the same time step, then every local step.
    /// DiLoCo: every live worker's inner SGD step; after every H = τ of them the master's outer step on the round's
    /// pseudo-gradient (the workers whose parameters stopped being finite are stopped first and left out of it), and
    /// every worker restarts from the new center.
    /// `parallel`: each worker's part on a thread of its own (the threads backend), the same arithmetic; whatever
    /// touches the center runs inside `critical` (the threads backend's lock, which its tester also takes).
    @discardableResult
    public func synchronousStep(parallel: Bool = false, critical: (() -> Void) -> Void = { $0() }) -> Bool {
        let s = settings
        precondition(s.method.stepsTogether)
        if s.method == .diloco { return dilocoStep(parallel: parallel, critical: critical) }
        let live = workers.filter(\.alive)
        each(live, parallel: parallel) { w in w.synchronousGradient(settings: s) }
        let stepping = live.filter(\.alive)
        let eta = stepping.first.map(rate) ?? s.learningRate
        var exchanged = false
        critical {
            if let first = stepping.first, first.clock % s.tau == 0 {
                master.acceptSynchronousExchange(stepping.map(\.parameters.pointer))
                for w in stepping { w.exchanges += 1 }
                exchanged = true
            }
            master.clock += 1
        }
        each(stepping, parallel: parallel) { w in
            w.synchronousLocalStep(learningRate: eta)
            return nil
        }
        return exchanged
    }

    /// Runs `body` for each worker, in order on this thread or (parallel) on a thread each; a worker whose body
    /// returns a reason is stopped, in worker order after all have run (so the stop records do not depend on timing).
    private func each(_ list: [WorkerState<Scalar>], parallel: Bool, _ body: (WorkerState<Scalar>) -> String?) {
        var reasons = [String?](repeating: nil, count: list.count)
        if parallel && list.count > 1 {
            withoutActuallyEscaping(body) { body in
                reasons.withUnsafeMutableBufferPointer { r in
                    // Each iteration touches its own worker and its own slot only.
                    nonisolated(unsafe) let r = r, body = body
                    DispatchQueue.concurrentPerform(iterations: list.count) { k in r[k] = body(list[k]) }
                }
            }
        } else {
            for k in list.indices { reasons[k] = body(list[k]) }
        }
        for (w, reason) in zip(list, reasons) { if let reason { stop(w, reason) } }
    }

    private func dilocoStep(parallel: Bool, critical: (() -> Void) -> Void) -> Bool {
        let s = settings
        each(workers.filter(\.alive), parallel: parallel) { w in w.innerStep(settings: s, learningRate: rate(w)) }
        let stepping = workers.filter(\.alive)
        guard let first = stepping.first, first.clock % s.tau == 0 else { return false }
        var exchanged = false
        critical { exchanged = dilocoRoundEnd(stepping) }
        return exchanged
    }

    /// The end of a DiLoCo round (the master's part and the restarts), for the workers that took its last step.
    private func dilocoRoundEnd(_ stepping: [WorkerState<Scalar>]) -> Bool {
        let s = settings
        for w in stepping where !w.parameters.isFinite { stop(w, WorkerState<Scalar>.nonFiniteAtRoundEnd) }
        let arriving = stepping.filter(\.alive)
        guard !arriving.isEmpty else { return false }
        if let c = s.compression {
            // Each worker sends its own pseudo-gradient (its round's start − x_i) through the codec: x_i becomes the
            // start minus what arrives. The start is the center, or with compressed replies the center as the
            // worker decoded it (its reply reference, which the master keeps too): what a worker can know.
            let n = master.center.count
            let message = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: n)
            defer { message.deallocate() }
            for w in arriving {
                let start = w.roundStart(center: master.center).readOnly
                OuterStep.workerMessage(center: start, worker: w.parameters.readOnly, into: message)
                w.compress(message, c)
                OuterStep.workerFromMessage(center: start, message: UnsafeBufferPointer(message), into: w.parameters.pointer)
            }
        }
        guard master.acceptRound(arriving.map(\.parameters.readOnly)) else {
            for w in arriving { stop(w, WorkerState<Scalar>.roundRejected) }
            return false
        }
        for w in arriving {
            w.parameters.copy(from: master.center)
            w.restartRound(settings: s)
        }
        return true
    }
}

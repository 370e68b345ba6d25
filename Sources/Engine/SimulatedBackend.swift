// The simulated backend: one thread and a virtual clock. Each worker step costs `compute` seconds of virtual time
// and each exchange with the master `communication` more, or, with `links`, what the model of the server links
// says (ServerLinks.swift: S servers serving one request at a time, latency plus bytes over bandwidth). Events run
// in virtual-time order, ties broken by the lower worker index, so a run is bit-identical for the same seed. With the round-robin schedule the workers take
// turns, each activation being τ consecutive steps (the paper's section 4 scheme); the virtual clock then shows
// what p devices would have taken. In random order each activation (τ consecutive steps, as in round-robin) is by a
// live worker drawn uniformly and independently (the random-order maps' scheme), from a stream seeded by the run's
// seed and checkpointed; the virtual clock is then each worker's own bookkeeping, not a schedule p devices would
// keep.

import Elastic
import Training

public struct VirtualCosts: Codable, Equatable, Sendable {
    public var compute: Double
    public var communication: Double
    /// When given, an exchange costs what these links take (queueing included) instead of `communication`.
    public var links: ServerLinks?
    public init(compute: Double = 1, communication: Double = 0, links: ServerLinks? = nil) {
        self.compute = compute
        self.communication = communication
        self.links = links
    }
}

public final class SimulatedBackend<Scalar: NetworkScalar> {
    public let engine: ParallelEngine<Scalar>
    public let costs: VirtualCosts
    public let schedule: Schedule
    /// Each worker's virtual time, and the time of the last event processed.
    public private(set) var workerTimes: [Double]
    public private(set) var now = 0.0
    /// Virtual seconds spent communicating, summed over workers.
    public private(set) var communicationTime = 0.0
    private var nextRoundRobin = 0
    /// Random order: the stream that draws each activation's worker.
    private var order: SplitMix64
    /// Clock and round-robin order: a worker whose clock has reached this many steps takes no more (with a queue
    /// at the master, one that is done can be the earliest; nil: no limit).
    public var budget: Int? = nil
    /// With `costs.links`: when each server is next free.
    private var serverFree: [Double] = []

    /// `schedule`: clock, round-robin or random; `orderSeed` seeds random order's draws.
    public init(engine: ParallelEngine<Scalar>, costs: VirtualCosts = VirtualCosts(), schedule: Schedule = .clock, orderSeed: UInt64 = 1) {
        self.engine = engine
        self.costs = costs
        self.schedule = schedule
        order = SplitMix64(seed: SplitMix64.derived(from: orderSeed, stream: 0x5000).state)
        workerTimes = Array(repeating: 0, count: engine.workers.count)
    }

    /// Runs `events` events: a worker step (clock), an activation of τ steps (round-robin), or a synchronous step
    /// of all workers (sync-EASGD, DiLoCo). `observe` is called after each event.
    @_specialize(exported: true, where Scalar == Float)
    public func run(events: Int, observe: (SimulatedBackend) -> Void = { _ in }) {
        for _ in 0..<events {
            if engine.settings.method.stepsTogether {
                let exchange = engine.synchronousStep()
                let communication = exchange ? roundCommunication() : 0
                let cost = costs.compute + communication
                for i in workerTimes.indices where engine.workers[i].alive { workerTimes[i] += cost }
                if exchange { communicationTime += communication * Double(engine.aliveWorkers) }
                now = workerTimes.max() ?? now
            } else if schedule != .clock {
                guard let w = schedule == .random ? randomLiveWorker() : nextLiveWorker() else { return }
                for _ in 0..<engine.settings.tau { advance(w) }
            } else {
                guard let w = earliestLiveWorker() else { return }
                advance(w)
            }
            observe(self)
        }
    }

    /// The virtual time every live worker has reached (the earliest live worker's clock): every step that ends
    /// by then has been taken, so this is the time at which the system can be observed whole.
    public var frontier: Double {
        engine.workers.filter(\.alive).map { workerTimes[$0.index] }.min() ?? now
    }

    /// The virtual clocks, for checkpoints.
    var simulatorState: SimulatorState {
        get { SimulatorState(workerTimes: workerTimes, now: now, communicationTime: communicationTime, nextRoundRobin: nextRoundRobin,
                             serverFree: costs.links == nil ? nil : serverFree, orderState: schedule == .random ? order.state : nil) }
        set {
            workerTimes = newValue.workerTimes
            now = newValue.now
            communicationTime = newValue.communicationTime
            nextRoundRobin = newValue.nextRoundRobin
            serverFree = newValue.serverFree ?? []
            if let state = newValue.orderState { order.state = state }
        }
    }

    /// A synchronous round's exchange (DiLoCo, sync-EASGD): `communication`, or on the links every live worker's
    /// request leaving when the round's compute is done, served first come first served (in worker order, as they
    /// leave together), the round going on when the last has been answered. With S = 1 server and no latency that
    /// is p·(bytes sent + received)/bandwidth: the master moves every worker's message and reply in turn.
    private func roundCommunication() -> Double {
        guard let links = costs.links else { return costs.communication }
        let sent = (workerTimes.indices.filter { engine.workers[$0].alive }.map { workerTimes[$0] }.max() ?? now) + costs.compute
        var done = sent
        for _ in 0..<engine.aliveWorkers { done = max(done, book(links, at: sent)) }
        return done - sent
    }

    /// One request on the links, sent at `time` (the codec's bytes, both ways); returns when it has been answered.
    private func book(_ links: ServerLinks, at time: Double) -> Double {
        let n = engine.master.center.count, s = engine.settings
        let perEntry = Double(s.bytesSent(parameters: n) + s.bytesReceived(parameters: n)) / Double(max(n, 1))
        return links.book(at: time, entries: n, bytesPerEntry: perEntry, free: &serverFree)
    }

    private func advance(_ w: WorkerState<Scalar>) {
        let communicated = engine.step(w) { $0() }
        var communication = communicated ? costs.communication : 0
        if communicated, let links = costs.links {
            // The request leaves when the step's compute is done and waits for the last of its shards.
            let sent = workerTimes[w.index] + costs.compute
            communication = book(links, at: sent) - sent
        }
        communicationTime += communication
        workerTimes[w.index] += costs.compute + communication
        now = max(now, workerTimes[w.index])
    }

    private func stepping(_ w: WorkerState<Scalar>) -> Bool { w.alive && budget.map { w.clock < $0 } ?? true }

    private func earliestLiveWorker() -> WorkerState<Scalar>? {
        var best: WorkerState<Scalar>? = nil
        for w in engine.workers where stepping(w) {
            if best == nil || workerTimes[w.index] < workerTimes[best!.index] { best = w }
        }
        return best
    }

    private func randomLiveWorker() -> WorkerState<Scalar>? {
        let live = engine.workers.filter(\.alive)
        return live.isEmpty ? nil : live[order.nextInt(below: live.count)]
    }

    private func nextLiveWorker() -> WorkerState<Scalar>? {
        let p = engine.workers.count
        for k in 0..<p {
            let w = engine.workers[(nextRoundRobin + k) % p]
            if stepping(w) {
                nextRoundRobin = (w.index + 1) % p
                return w
            }
        }
        return nil
    }
}

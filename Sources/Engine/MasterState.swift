// The state of the whole system, each part a flat buffer: the master's center (and its velocity for MDOWNPOUR and
// DiLoCo's outer momentum,
// its average for the A/MVA variants, its copies of the workers' (x_j, λ_j) for ADMM) and clock; each worker's
// parameters, velocity, accumulator, multiplier, clock and its objective. Checkpoints and messages move these
// buffers whole.

import Elastic
import Training

public final class MasterState<Scalar: NetworkScalar>: @unchecked Sendable {
    public let center: FlatBuffer<Scalar>
    public let velocity: FlatBuffer<Scalar>
    public let average: FlatBuffer<Scalar>
    /// ADMM: the master's copy of every worker's x_j and λ_j, from which it recomputes the center.
    public let workerParameters: [FlatBuffer<Scalar>]
    public let workerMultipliers: [FlatBuffer<Scalar>]
    /// DiLoCo: the round's pseudo-gradient (scratch, not part of the state).
    let pseudoGradient: FlatBuffer<Scalar>
    /// DiLoCo with a delayed outer step: the last round's pseudo-gradient, applied at the end of the next (state).
    public let pending: FlatBuffer<Scalar>
    /// Center updates so far.
    public var clock = 0
    /// Exchanges (or pushes, or gradient updates) the master accepted and rejected (non-finite).
    public var accepted = 0
    public var rejected = 0
    package let settings: EngineSettings

    /// A master of `n` parameters: the whole center, or one shard of it (MPI's --servers; every rule is element-wise).
    package init(settings: EngineSettings, count n: Int) {
        self.settings = settings
        center = FlatBuffer(count: n)
        velocity = FlatBuffer(count: settings.method == .mdownpour || settings.outer?.keepsVelocity == true ? n : 0)
        pseudoGradient = FlatBuffer(count: settings.method == .diloco ? n : 0)
        pending = FlatBuffer(count: settings.method == .diloco && settings.outer?.delayed == true ? n : 0)
        average = FlatBuffer(count: settings.method.evaluatesAverage ? n : 0)
        let admm = settings.method == .admm
        workerParameters = (0..<(admm ? settings.workers : 0)).map { _ in FlatBuffer(count: n) }
        workerMultipliers = (0..<(admm ? settings.workers : 0)).map { _ in FlatBuffer(count: n) }
    }

    /// The model that is evaluated and saved.
    public func model(_ method: Algorithm) -> FlatBuffer<Scalar> { method.evaluatesAverage ? average : center }

    // MARK: The master's side of every interaction, the same on every backend (shared memory or messages).
    // Each refuses a non-finite payload (counting a rejection) and then leaves the center as it was.

    /// Elastic exchange with a worker's x: both move by d = α(x − x̃); `x` is replaced by x − d.
    @_specialize(exported: true, where Scalar == Float)
    package func acceptExchange(_ x: UnsafeMutableBufferPointer<Scalar>) -> Bool {
        guard Scalar.allFinite(UnsafeBufferPointer(x)) else { rejected += 1; return false }
        ElasticExchange.exchange(worker: x, center: center.pointer, alpha: Scalar(settings.alpha))
        accepted += 1
        return true
    }

    /// EASGD's coded exchange (`--compress`): `message` holds what decodes of the worker's x − s, `reference` the
    /// master's copy of s (in shared memory the worker's own); s += m̂, then both move by d = α(s − x̃), and
    /// `message` becomes d for the worker.
    @_specialize(exported: true, where Scalar == Float)
    package func acceptCodedExchange(_ message: UnsafeMutableBufferPointer<Scalar>, reference: UnsafeMutableBufferPointer<Scalar>) -> Bool {
        guard Scalar.allFinite(UnsafeBufferPointer(message)) else { rejected += 1; return false }
        ElasticExchange.acceptCoded(message: message, reference: reference, center: center.pointer, alpha: Scalar(settings.alpha))
        accepted += 1
        return true
    }

    /// DOWNPOUR push (x̃ ← x̃ + acc, acc zeroed) with the A/MVA average and the clock, or asynchronous DiLoCo's
    /// arrival (the outer step on −acc/p, acc zeroed); then `pull` receives x̃.
    @_specialize(exported: true, where Scalar == Float)
    package func acceptPush(_ acc: UnsafeMutableBufferPointer<Scalar>, pull: (UnsafeBufferPointer<Scalar>) -> Void) -> Bool {
        guard Scalar.allFinite(UnsafeBufferPointer(acc)) else { rejected += 1; return false }
        if settings.method == .asyncDiloco, let o = settings.outer {
            OuterStep.applyArrival(o.optimizer, center: center.pointer, velocity: velocity.pointer, accumulated: acc,
                                   workers: settings.workers, learningRate: Scalar(o.learningRate), momentum: Scalar(o.momentum))
        } else {
            Downpour.push(acc, into: center.pointer)
        }
        switch settings.method {
        case .adownpour:   // z is the mean of x̃ after each update
            Averaging.update(average: average.pointer, parameters: center.readOnly, rate: Averaging.runningMeanRate(after: clock))
        case .mvadownpour:
            Averaging.update(average: average.pointer, parameters: center.readOnly, rate: Scalar(settings.movingRate))
        default: break
        }
        clock += 1
        accepted += 1
        pull(center.readOnly)
        return true
    }

    /// DiLoCo's outer step at the end of a round: Δ = x̃ − mean of the workers' x, then the outer optimizer on the
    /// center (OuterStep); delayed, on the last round's Δ, this one's kept for the next (Streaming DiLoCo's overlap,
    /// the map's `delayed` round). Refused, the center left as it was, when Δ is not finite; the caller restarts the
    /// workers.
    @_specialize(exported: true, where Scalar == Float)
    package func acceptRound(_ workers: [UnsafeBufferPointer<Scalar>]) -> Bool {
        guard prepareRound(workers) else { rejected += workers.count; return false }
        applyRound(workers: workers.count)
        return true
    }

    /// The first half of `acceptRound`, for a center held in shards that must all accept a round or all refuse it
    /// (MPI's sharded lockstep): the pseudo-gradient of this master's entries, and whether it is finite. Changes
    /// no state.
    @_specialize(exported: true, where Scalar == Float)
    package func prepareRound(_ workers: [UnsafeBufferPointer<Scalar>]) -> Bool {
        guard settings.outer != nil, !workers.isEmpty else { preconditionFailure("a DiLoCo round needs its outer step and a worker") }
        OuterStep.pseudoGradient(center: center.readOnly, workers: workers, into: pseudoGradient.pointer)
        return Scalar.allFinite(pseudoGradient.readOnly)
    }

    /// The second half: the outer step on the prepared pseudo-gradient, counted for `count` workers.
    @_specialize(exported: true, where Scalar == Float)
    package func applyRound(workers count: Int) {
        guard let outer = settings.outer else { preconditionFailure("a DiLoCo round needs its outer step") }
        if outer.delayed {
            for k in 0..<pending.count { swap(&pending.pointer[k], &pseudoGradient.pointer[k]) }
        }
        OuterStep.apply(outer.optimizer, center: center.pointer, velocity: velocity.pointer, pseudoGradient: pseudoGradient.readOnly,
                        learningRate: Scalar(outer.learningRate), momentum: Scalar(outer.momentum))
        clock += 1
        accepted += count
    }

    /// Sync-EASGD's exchange of every stepping worker from the same time step (each x_i moves by α(x_i − x̃), the
    /// center by the sum), in the workers' order.
    @_specialize(exported: true, where Scalar == Float)
    package func acceptSynchronousExchange(_ workers: [UnsafeMutableBufferPointer<Scalar>]) {
        ElasticExchange.synchronousExchange(workers: workers, center: center.pointer, alpha: Scalar(settings.alpha))
        accepted += workers.count
    }

    /// MDOWNPOUR: the look-ahead point x̃ + δV at which a worker takes its gradient.
    @_specialize(exported: true, where Scalar == Float)
    package func lookahead(into y: UnsafeMutableBufferPointer<Scalar>) {
        Nesterov.lookahead(parameters: center.readOnly, velocity: velocity.readOnly, momentum: Scalar(settings.momentum), into: y)
    }

    /// MDOWNPOUR: Nesterov's step at the master with a worker's gradient.
    @_specialize(exported: true, where Scalar == Float)
    package func acceptGradient(_ g: UnsafeBufferPointer<Scalar>, learningRate eta: Scalar) -> Bool {
        guard Scalar.allFinite(g) else { rejected += 1; return false }
        Nesterov.step(parameters: center.pointer, velocity: velocity.pointer, lookaheadGradient: g,
                      learningRate: eta, momentum: Scalar(settings.momentum))
        clock += 1
        accepted += 1
        return true
    }
}

// One local step of one worker, written once for every backend. The worker's side of each method is a few
// `Elastic` calls; whatever involves the master goes through a `MasterLink`: shared memory inside a critical
// section (simulator, threads) or messages to rank 0 (MPI). Either way the master's side is `MasterState`.

import Elastic
import Training

/// How a worker reaches the master. Each call returns false when the master rejected the payload.
public protocol MasterLink<Scalar> {
    associatedtype Scalar: NetworkScalar
    /// The elastic exchange: `x` becomes x − α(x − x̃) and the center moves by the same difference.
    func exchange(_ x: FlatBuffer<Scalar>, loss: Double) -> Bool
    /// Push `acc` into the center (acc is zeroed), then pull the center into `x`.
    func pushAndPull(_ acc: FlatBuffer<Scalar>, into x: FlatBuffer<Scalar>, loss: Double) -> Bool
    /// The master's look-ahead point into `y`.
    func lookahead(into y: FlatBuffer<Scalar>, loss: Double) -> Bool
    /// A gradient for the master's Nesterov step at the worker's learning rate.
    func applyGradient(_ g: FlatBuffer<Scalar>, loss: Double, learningRate: Scalar) -> Bool
    /// The exchange in two halves, for a link that can overlap it with the gradient's computation: `beginExchange`
    /// sends x (a copy; `loss` is the worker's previous one, since this step's is not known yet) and
    /// `endExchange` replaces x with x − α(x − x̃). False when not sent or rejected.
    var overlapsExchange: Bool { get }
    /// Whether the link itself decodes a compressed reply into the worker's reference and parameters (MPI, where
    /// the codec's bytes travel); otherwise the worker step codes the center it is handed.
    var decodesReplies: Bool { get }
    func beginExchange(_ x: FlatBuffer<Scalar>, loss: Double) -> Bool
    func endExchange(_ x: FlatBuffer<Scalar>) -> Bool
    /// EASGD's coded exchange: `message` holds what decodes of x − s (the codec's bytes are the worker's wire);
    /// the master's copy of s takes it and the elastic difference d, and `message` becomes d; `reference` (the
    /// worker's s) ends as the master's copy does.
    func codedExchange(_ message: FlatBuffer<Scalar>, reference: FlatBuffer<Scalar>, loss: Double) -> Bool
}

extension MasterLink {
    public var overlapsExchange: Bool { false }
    public var decodesReplies: Bool { false }
    public func beginExchange(_ x: FlatBuffer<Scalar>, loss: Double) -> Bool { preconditionFailure("this link does not overlap its exchanges") }
    public func endExchange(_ x: FlatBuffer<Scalar>) -> Bool { preconditionFailure("this link does not overlap its exchanges") }
}

/// The master in the same process, reached inside `critical` (which a backend makes atomic).
struct LocalMasterLink<Scalar: NetworkScalar>: MasterLink {
    let master: MasterState<Scalar>
    let critical: (() -> Void) -> Void

    func exchange(_ x: FlatBuffer<Scalar>, loss: Double) -> Bool {
        var ok = false
        critical { ok = master.acceptExchange(x.pointer) }
        return ok
    }
    func pushAndPull(_ acc: FlatBuffer<Scalar>, into x: FlatBuffer<Scalar>, loss: Double) -> Bool {
        var ok = false
        critical { ok = master.acceptPush(acc.pointer) { Downpour.pull($0, into: x.pointer) } }
        return ok
    }
    func lookahead(into y: FlatBuffer<Scalar>, loss: Double) -> Bool {
        critical { master.lookahead(into: y.pointer) }
        return true
    }
    func applyGradient(_ g: FlatBuffer<Scalar>, loss: Double, learningRate: Scalar) -> Bool {
        var ok = false
        critical { ok = master.acceptGradient(g.readOnly, learningRate: learningRate) }
        return ok
    }
    /// In shared memory the master's copy of s is the worker's own.
    func codedExchange(_ message: FlatBuffer<Scalar>, reference: FlatBuffer<Scalar>, loss: Double) -> Bool {
        var ok = false
        critical { ok = master.acceptCodedExchange(message.pointer, reference: reference.pointer) }
        return ok
    }
}

public enum StepOutcome: Equatable, Sendable {
    case stepped(communicated: Bool)
    /// The worker must stop: its loss or gradient was not finite, or the master rejected its payload.
    case stopped(String)
}

extension WorkerState {
    /// One local step (with its exchange, push or gradient update when the method calls for one) at learning
    /// rate `learningRate` (the schedule's at this worker's clock). The caller records a stop; the worker's clock and
    /// exchange count advance only on a completed step.
    /// Specialized for Float: the element-wise rules are generic, and a caller in another module (MPI's worker, the
    /// benches) would otherwise run them through witness tables (the exchange alone took 5× longer).
    @_specialize(exported: true, where Scalar == Float)
    package func step(settings s: EngineSettings, learningRate: Double, link: any MasterLink<Scalar>) -> StepOutcome {
        let eta = Scalar(learningRate), delta = Scalar(s.momentum)
        let exchangeDue = clock % s.tau == 0
        var communicated = false
        switch s.method {
        case .easgd, .eamsgd:
            // Algorithm 1 takes the gradient at the pre-exchange point, Algorithm 2 at its look-ahead point.
            let point = s.method == .eamsgd ? lookahead : parameters
            if s.method == .eamsgd {
                Nesterov.lookahead(parameters: parameters.readOnly, velocity: velocity.readOnly, momentum: delta, into: lookahead.pointer)
            }
            // Overlapped (MPI), the exchange of the pre-exchange x goes out first and its answer is taken after the
            // gradient: the same arithmetic in the same order, the wait hidden behind the computation.
            let overlapped = exchangeDue && link.overlapsExchange
            if overlapped {
                guard link.beginExchange(parameters, loss: lastLoss) else { return .stopped("non-finite parameters (rejected by the master)") }
            }
            let loss = evaluate(at: point, decay: s.weightDecay)
            let finite = loss.isFinite && Scalar.allFinite(gradient.readOnly)
            if overlapped {
                // The exchange is in flight: its answer is taken even when the step stops here.
                let accepted = link.endExchange(parameters)
                guard finite else { return .stopped("non-finite loss or gradient") }
                guard accepted else { return .stopped("non-finite parameters (rejected by the master)") }
                communicated = true
            } else {
                guard finite else { return .stopped("non-finite loss or gradient") }
                if exchangeDue, let c = s.compression {
                    // The coded exchange: x − s through the codec, the master's d back, x −= d.
                    ElasticExchange.codedMessage(worker: parameters.readOnly, reference: sentReference.readOnly, into: codedMessage.pointer)
                    compress(codedMessage.pointer, c)
                    guard link.codedExchange(codedMessage, reference: sentReference, loss: loss) else {
                        return .stopped("non-finite parameters (rejected by the master)")
                    }
                    ElasticExchange.applyDifference(worker: parameters.pointer, difference: codedMessage.readOnly)
                    communicated = true
                } else if exchangeDue {
                    guard link.exchange(parameters, loss: loss) else { return .stopped("non-finite parameters (rejected by the master)") }
                    communicated = true
                }
            }
            if s.method == .eamsgd {
                Nesterov.step(parameters: parameters.pointer, velocity: velocity.pointer, lookaheadGradient: gradient.readOnly,
                              learningRate: eta, momentum: delta)
            } else {
                LocalStep.sgd(parameters.pointer, gradient: gradient.readOnly, learningRate: eta)
            }
        case .downpour, .adownpour, .mvadownpour, .asyncDiloco:
            let loss = evaluate(at: parameters, decay: s.weightDecay)
            guard loss.isFinite, Scalar.allFinite(gradient.readOnly) else { return .stopped("non-finite loss or gradient") }
            Downpour.accumulate(accumulator.pointer, gradient: gradient.readOnly, learningRate: eta)
            LocalStep.sgd(parameters.pointer, gradient: gradient.readOnly, learningRate: eta)
            if (clock + 1) % s.tau == 0 {
                if let c = s.compression { compress(accumulator.pointer, c) }
                guard link.pushAndPull(accumulator, into: parameters, loss: loss) else {
                    return .stopped("non-finite accumulated update (rejected by the master)")
                }
                if let c = s.replyCompression, !link.decodesReplies { receiveCompressedReply(parameters, c) }
                communicated = true
            }
        case .mdownpour:
            guard link.lookahead(into: lookahead, loss: lastLoss) else { return .stopped("the master refused the look-ahead") }
            let loss = evaluate(at: lookahead, decay: s.weightDecay)
            guard loss.isFinite, Scalar.allFinite(gradient.readOnly) else { return .stopped("non-finite loss or gradient") }
            guard link.applyGradient(gradient, loss: loss, learningRate: eta) else { return .stopped("non-finite gradient (rejected by the master)") }
            parameters.copy(from: lookahead)
            communicated = true
        case .admm, .syncEasgd, .diloco:
            preconditionFailure("\(s.method.rawValue) is stepped by ParallelEngine (it needs every worker's state)")
        case .sgd, .msgd, .asgd, .mvasgd:
            preconditionFailure("\(s.method.rawValue) is a sequential method (SequentialOptimizer)")
        }
        if communicated { exchanges += 1 }
        clock += 1
        return .stepped(communicated: communicated)
    }

    /// The objective's loss and gradient at `point`, weight decay included; remembers the loss.
    @_specialize(exported: true, where Scalar == Float)
    func evaluate(at point: FlatBuffer<Scalar>, decay: Double) -> Double {
        let loss = objective.lossAndGradient(at: point.readOnly, into: gradient.pointer)
        LocalStep.addWeightDecay(gradient.pointer, parameters: point.readOnly, decay: Scalar(decay))
        lastLoss = loss
        return loss
    }
}

// MARK: The worker's part of the methods that step every worker at once (sync-EASGD, DiLoCo), the same whether the
// engine steps them together in one process or each runs on an MPI rank of its own (rank 0 holding the round).

extension WorkerState {
    package static var nonFiniteAtRoundEnd: String { "non-finite parameters at the end of a round" }
    package static var roundRejected: String { "non-finite pseudo-gradient (rejected by the master)" }

    /// Sync-EASGD: the gradient at the worker's current point (before the exchange); the reason to stop, if any.
    @_specialize(exported: true, where Scalar == Float)
    package func synchronousGradient(settings s: EngineSettings) -> String? {
        let loss = evaluate(at: parameters, decay: s.weightDecay)
        return loss.isFinite && gradient.isFinite && parameters.isFinite ? nil : "non-finite loss, gradient or parameters"
    }

    /// Sync-EASGD: the local step with the gradient taken before the exchange.
    @_specialize(exported: true, where Scalar == Float)
    package func synchronousLocalStep(learningRate eta: Double) {
        LocalStep.sgd(parameters.pointer, gradient: gradient.readOnly, learningRate: Scalar(eta))
        clock += 1
    }

    /// DiLoCo: one inner step (SGD, or Nesterov with the gradient at the look-ahead point, as EAMSGD's workers); the
    /// reason to stop, if any.
    @_specialize(exported: true, where Scalar == Float)
    package func innerStep(settings s: EngineSettings, learningRate: Double) -> String? {
        let delta = Scalar(s.outer?.innerMomentum ?? 0)
        if delta != 0 { Nesterov.lookahead(parameters: parameters.readOnly, velocity: velocity.readOnly, momentum: delta, into: lookahead.pointer) }
        let loss = evaluate(at: delta != 0 ? lookahead : parameters, decay: s.weightDecay)
        if !(loss.isFinite && gradient.isFinite) { return "non-finite loss or gradient" }
        if delta != 0 {
            Nesterov.step(parameters: parameters.pointer, velocity: velocity.pointer, lookaheadGradient: gradient.readOnly,
                          learningRate: Scalar(learningRate), momentum: delta)
        } else {
            LocalStep.sgd(parameters.pointer, gradient: gradient.readOnly, learningRate: Scalar(learningRate))
        }
        clock += 1
        return nil
    }

    /// DiLoCo: the restart at a round's end, `parameters` holding the new center: coded against the worker's
    /// reference with a compressed reply (unless `replyDecoded`: MPI's worker has decoded the codec's bytes into
    /// `parameters` and its reference already), the inner velocity reset unless kept, the exchange counted.
    @_specialize(exported: true, where Scalar == Float)
    package func restartRound(settings s: EngineSettings, replyDecoded: Bool = false) {
        if let c = s.replyCompression, !replyDecoded { receiveCompressedReply(parameters, c) }
        if (s.outer?.innerMomentum ?? 0) != 0 && s.outer?.keepsInnerVelocity != true { velocity.fill(0) }
        exchanges += 1
    }
}

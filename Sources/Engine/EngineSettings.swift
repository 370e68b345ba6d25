// The settings of the parallel methods (section 3 and the experiments of section 5); the methods themselves are
// `Algorithm`s (Elastic), and each below is a few calls into the `Elastic` rules:
//   easgd        Algorithm 1: when τ divides the worker's clock, it and the master move towards each other by
//                α(x_i − x̃) (one difference, applied to both); the local step uses the gradient at the
//                pre-exchange point.
//   eamsgd       Algorithm 2: the same exchange; local Nesterov momentum, gradient at x_i + δv_i.
//   downpour     τ local steps accumulated (acc ← acc − ηg), pushed (x̃ ← x̃ + acc), then the center pulled.
//   mdownpour    τ = 1; Nesterov momentum at the master; the worker's gradient at the master's look-ahead point.
//   adownpour    DOWNPOUR plus the master's running average z ← z + (x̃ − z)/(t + 1), t the master clock.
//   mvadownpour  the same with a constant rate.
//   sync-easgd   every worker steps, then x_i −= α(x_i − x̃) and x̃ += αΣ_i(x_i − x̃), all from one time step.
//   admm         round-robin linearized ADMM (quadratic objective; section 4's chaotic example).
//   diloco       every worker steps at once (inner SGD); every H = τ steps the outer optimizer moves the center by
//                Δ = x̃ − mean x_i and every worker restarts from it (the round of `SynchronousOuterScheme`).

import Elastic
import Training

public struct EngineSettings: Codable, Equatable, Sendable {
    /// ADMM's penalty ρ when none is given (the quadratic engine; ADMM trains no network).
    public static let defaultRho = 1.0
    public var method: Algorithm
    public var workers: Int
    public var learningRate: Double
    /// The elastic moving rate α (EASGD, EAMSGD, sync-EASGD).
    public var alpha: Double
    /// Communication period τ (1 for MDOWNPOUR).
    public var tau: Int
    /// Nesterov momentum δ (EAMSGD at the workers, MDOWNPOUR at the master).
    public var momentum: Double
    /// The constant rate of MVADOWNPOUR's average.
    public var movingRate: Double
    /// λ of the objective's λ/2‖x‖² (given always: a network's is `TrainingDefaults.weightDecay`, a quadratic's 0).
    public var weightDecay: Double
    /// ADMM's ρ.
    public var rho: Double
    /// The learning rate's schedule, applied by every worker at its own clock (nil: constant, and in configs
    /// written before schedules).
    public var schedule: LearningRateSchedule?
    /// DiLoCo's outer step (nil for the other methods).
    public var outer: OuterSettings?
    /// What the workers' updates go through on their way to the master (nil: Float32 as they are).
    public var compression: Compression?
    /// The codec of what the master sends back when that is the center (the methods that send updates): the
    /// master encodes x̃ − r_i, r_i what worker i last received, and both sides add what decodes to r_i, which
    /// the worker takes as its parameters; so what a reply misses is sent with the next one (delta coding, error
    /// feedback by construction). nil: Float32 as it is.
    public var replyCompression: Codec?
    /// The slices of the center a compressed update is encoded in, each on its own (the codec's blocks restart at
    /// each slice): MPI's --servers, or the simulated link model's servers, so that every server decodes its own
    /// slice and every backend the same values (nil: one).
    public var slices: Int?

    /// The ranges a compressed message of n values is encoded in, one per slice.
    /// EASGD and EAMSGD with `--compress`: the exchange's message is x − s through the codec (ElasticExchange's
    /// coded exchange); the worker keeps s and a message buffer.
    public var codesExchange: Bool { compression != nil && (method == .easgd || method == .eamsgd) }

    public func messageSlices(_ n: Int) -> [Range<Int>] {
        let layout = ShardLayout(count: n, servers: max(1, min(slices ?? 1, n)))
        return (0..<layout.servers).map(layout.range)
    }

    /// Bytes a worker sends in one exchange of n parameters (its update through the codec, slice by slice, or
    /// Float32), and receives (the center through the reply's codec, slice by slice, or Float32: the center, the
    /// elastic difference or the look-ahead point).
    public func bytesSent(parameters n: Int) -> Int {
        guard let codec = compression?.codec else { return 4 * n }
        return messageSlices(n).map { codec.encodedBytes(count: $0.count) }.reduce(0, +)
    }
    public func bytesReceived(parameters n: Int) -> Int {
        guard let codec = replyCompression else { return 4 * n }
        return messageSlices(n).map { codec.encodedBytes(count: $0.count) }.reduce(0, +)
    }

    public init(method: Algorithm, workers: Int, learningRate: Double, alpha: Double? = nil, beta: Double = TrainingDefaults.beta,
                tau: Int = TrainingDefaults.tau, momentum: Double = TrainingDefaults.momentum,
                movingRate: Double = TrainingDefaults.movingRate, weightDecay: Double, rho: Double = EngineSettings.defaultRho,
                outer: OuterSettings? = nil) {
        precondition(workers >= 1 && tau >= 1)
        self.method = method
        self.workers = workers
        self.learningRate = learningRate
        self.alpha = alpha ?? beta / Double(workers)
        self.tau = method == .mdownpour ? 1 : tau
        self.momentum = momentum
        self.movingRate = movingRate
        self.weightDecay = weightDecay
        self.rho = rho
        self.outer = method.takes(.outer) ? outer ?? OuterSettings() : nil
    }

    /// These settings with every hyper-parameter the method does not take at one fixed value: what a checkpoint's
    /// settings are compared on (config.json holds only the ones the method takes since 2026-12-06, and a
    /// DOWNPOUR checkpoint written before then holds the α it never used).
    public var takenOnly: EngineSettings {
        var s = self
        if !method.takes(.alpha) { s.alpha = 0 }
        if !method.takes(.momentum) { s.momentum = 0 }
        if !method.takes(.movingRate) { s.movingRate = 0 }
        if !method.takes(.rho) { s.rho = 0 }
        if !method.takes(.tau) { s.tau = 1 }
        if !method.takes(.outer) { s.outer = nil }
        return s
    }
}

// The outer step of elastic averaging's descendants (DiLoCo, SlowMo, Lookahead, Local SGD): the workers take H
// inner steps from the center x̃, the pseudo-gradient Δ = x̃ − mean_i x_i is formed, an outer optimizer moves the
// center by it, and every worker restarts from the new center. Unlike EASGD's elastic pull, nothing of a worker's
// own position survives a round: the coupling is a restart, not a spring.
//   sgd         x̃ ← x̃ − η_o Δ                               (Local SGD: η_o = 1, the plain average)
//   heavy-ball  v ← βv + Δ;  x̃ ← x̃ − η_o v                  (SlowMo: u = v/γ, α = η_o)
//   nesterov    v ← βv + Δ;  x̃ ← x̃ − η_o (Δ + βv)           (PyTorch's SGD(nesterov=True); DiLoCo: η_o = 0.7, β = 0.9)
// The sign is Δ = x̃ − mean x_i, so that with η_o = 1 and β = 0 the center becomes the workers' mean.
//
// Asynchronous arrival (async-diloco; Liu et al. 2024's asynchronous Local-SGD): each worker takes its H inner steps
// from the center it last pulled, accumulating acc = −Σ γg (DOWNPOUR's accumulator, = x_i − x̃_start in exact
// arithmetic), and on arrival the outer optimizer takes one step on Δ_i/p = −acc/p alone; the worker then pulls
// the center. Scaled by 1/p, p arrivals move the center as far as one synchronous round would (for SGD exactly so
// when they start from the same center). Outer SGD with η_o = p is DOWNPOUR's push.

/// The optimizer that moves the center by the pseudo-gradient.
public enum OuterOptimizer: String, CaseIterable, Codable, Sendable {
    case sgd
    case heavyBall = "heavy-ball"
    case nesterov
}

public enum OuterStep {
    /// Δ ← x̃ − (1/p) Σ_i x_i.
    @inlinable
    public static func pseudoGradient<T: BinaryFloatingPoint>(
        center c: UnsafeBufferPointer<T>, workers: [UnsafeBufferPointer<T>], into delta: UnsafeMutableBufferPointer<T>
    ) {
        precondition(!workers.isEmpty && workers.allSatisfy { $0.count == c.count } && delta.count == c.count,
                     "center, workers and pseudo-gradient differ in size")
        let scale = 1 / T(workers.count)
        for k in 0..<c.count {
            var sum: T = 0
            for w in workers { sum += w[k] }
            delta[k] = c[k] - scale * sum
        }
    }

    /// The outer optimizer's step on the center with pseudo-gradient Δ (the velocity is unused by SGD).
    @inlinable
    public static func apply<T: BinaryFloatingPoint>(
        _ optimizer: OuterOptimizer, center c: UnsafeMutableBufferPointer<T>, velocity v: UnsafeMutableBufferPointer<T>,
        pseudoGradient delta: UnsafeBufferPointer<T>, learningRate eta: T, momentum beta: T
    ) {
        precondition(c.count == delta.count && (optimizer == .sgd || v.count == c.count), "outer buffers differ in size")
        switch optimizer {
        case .sgd:
            for k in 0..<c.count { c[k] -= eta * delta[k] }
        case .heavyBall:
            for k in 0..<c.count {
                v[k] = beta * v[k] + delta[k]
                c[k] -= eta * v[k]
            }
        case .nesterov:
            for k in 0..<c.count {
                v[k] = beta * v[k] + delta[k]
                c[k] -= eta * (delta[k] + beta * v[k])
            }
        }
    }
}

extension OuterStep {
    /// A compressed round's message from one worker: its own pseudo-gradient, the point its round started from less
    /// where it ended (x̃ − x; with compressed replies its start is the center as it decoded it, r), what the codec
    /// then carries. The master takes the worker's point as the same start less what decodes: it keeps r too.
    @inlinable
    public static func workerMessage<T: BinaryFloatingPoint>(center c: UnsafeBufferPointer<T>, worker x: UnsafeBufferPointer<T>,
                                                             into m: UnsafeMutableBufferPointer<T>) {
        precondition(c.count == x.count && m.count == x.count, "center, worker and message differ in size")
        for k in 0..<m.count { m[k] = c[k] - x[k] }
    }

    /// The worker's point the master takes from its decoded message m̂: its start (x̃, or r) − m̂.
    @inlinable
    public static func workerFromMessage<T: BinaryFloatingPoint>(center c: UnsafeBufferPointer<T>, message m: UnsafeBufferPointer<T>,
                                                                 into x: UnsafeMutableBufferPointer<T>) {
        precondition(c.count == m.count && x.count == m.count, "center, message and worker differ in size")
        for k in 0..<x.count { x[k] = c[k] - m[k] }
    }
}

extension OuterStep {
    /// One worker's arrival: Δ_i/p = −acc/p, then the outer step; `acc` is left zeroed (the caller pulls the center).
    @inlinable
    public static func applyArrival<T: BinaryFloatingPoint>(
        _ optimizer: OuterOptimizer, center c: UnsafeMutableBufferPointer<T>, velocity v: UnsafeMutableBufferPointer<T>,
        accumulated acc: UnsafeMutableBufferPointer<T>, workers p: Int, learningRate eta: T, momentum beta: T
    ) {
        precondition(acc.count == c.count && p >= 1, "outer buffers differ in size")
        let scale = -1 / T(p)
        for k in 0..<acc.count { acc[k] *= scale }
        apply(optimizer, center: c, velocity: v, pseudoGradient: UnsafeBufferPointer(acc), learningRate: eta, momentum: beta)
        for k in 0..<acc.count { acc[k] = 0 }
    }
}

/// An outer step's optimizer, learning rate η_o and momentum β (unused by SGD), whether it applies the round
/// before's pseudo-gradient (Streaming DiLoCo's overlap), and the inner optimizer of the round: SGD, or Nesterov
/// with momentum δ (`innerMomentum` > 0; Elastic's Nesterov, as EAMSGD's workers), its velocity reset to zero when a
/// worker restarts from the center (the default: restarts are a published stabiliser) or kept across rounds. The
/// defaults are DiLoCo's published ones (Nesterov, η_o = 0.7, β = 0.9; inner SGD). On a map, the axis replaces its
/// value.
public struct OuterSettings: Codable, Sendable, Equatable {
    public static let dilocoLearningRate = 0.7
    public static let dilocoMomentum = 0.9
    public var optimizer: OuterOptimizer
    public var learningRate: Double
    public var momentum: Double
    public var delayed = false
    public var innerMomentum = 0.0
    public var keepsInnerVelocity = false

    // config.json's "outer": {"optimizer", "eta", "momentum"} ("delayed", "inner_momentum" and
    // "keeps_inner_velocity" only when set).
    enum CodingKeys: String, CodingKey { case optimizer, learningRate = "eta", momentum, delayed, innerMomentum, keepsInnerVelocity }

    public init(optimizer: OuterOptimizer = .nesterov, learningRate: Double = OuterSettings.dilocoLearningRate,
                momentum: Double = OuterSettings.dilocoMomentum, delayed: Bool = false, innerMomentum: Double = 0,
                keepsInnerVelocity: Bool = false) {
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.delayed = delayed
        self.innerMomentum = innerMomentum
        self.keepsInnerVelocity = keepsInnerVelocity
    }

    /// The settings as a command line gives them: each one nil for DiLoCo's default (Nesterov, η_o = 0.7, β = 0.9,
    /// inner SGD) — the one place every command resolves them.
    public static func given(optimizer: OuterOptimizer?, learningRate: Double?, momentum: Double?, delayed: Bool = false,
                             innerMomentum: Double?, keepsInnerVelocity: Bool = false) -> OuterSettings {
        OuterSettings(optimizer: optimizer ?? .nesterov, learningRate: learningRate ?? dilocoLearningRate, momentum: momentum ?? dilocoMomentum,
                      delayed: delayed, innerMomentum: innerMomentum ?? 0, keepsInnerVelocity: keepsInnerVelocity)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        optimizer = try c.decode(OuterOptimizer.self, forKey: .optimizer)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        momentum = try c.decode(Double.self, forKey: .momentum)
        delayed = try c.decodeIfPresent(Bool.self, forKey: .delayed) ?? false
        innerMomentum = try c.decodeIfPresent(Double.self, forKey: .innerMomentum) ?? 0
        keepsInnerVelocity = try c.decodeIfPresent(Bool.self, forKey: .keepsInnerVelocity) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(momentum, forKey: .momentum)
        if delayed { try c.encode(delayed, forKey: .delayed) }
        if innerMomentum != 0 { try c.encode(innerMomentum, forKey: .innerMomentum) }
        if keepsInnerVelocity { try c.encode(keepsInnerVelocity, forKey: .keepsInnerVelocity) }
    }

    /// The workers take Nesterov steps (a velocity each).
    public var innerNesterov: Bool { innerMomentum != 0 }
    /// The workers' velocities carry from one round to the next (state of the round).
    public var innerVelocityIsState: Bool { innerNesterov && keepsInnerVelocity }

    /// The velocity the optimizer keeps: none for SGD.
    public var keepsVelocity: Bool { optimizer != .sgd }
}

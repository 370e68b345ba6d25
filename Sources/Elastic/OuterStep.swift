// The outer step of elastic averaging's descendants (DiLoCo, SlowMo, Lookahead, Local SGD): the workers take H
// inner steps from the center x̃, the pseudo-gradient Δ = x̃ − mean_i x_i is formed, an outer optimizer moves the
// center by it, and every worker restarts from the new center. Unlike EASGD's elastic pull, nothing of a worker's
// own position survives a round: the coupling is a restart, not a spring.
//   sgd         x̃ ← x̃ − η_o Δ                               (Local SGD: η_o = 1, the plain average)
//   heavy-ball  v ← βv + Δ;  x̃ ← x̃ − η_o v                  (SlowMo: u = v/γ, α = η_o)
//   nesterov    v ← βv + Δ;  x̃ ← x̃ − η_o (Δ + βv)           (PyTorch's SGD(nesterov=True); DiLoCo: η_o = 0.7, β = 0.9)
// The sign is Δ = x̃ − mean x_i, so that with η_o = 1 and β = 0 the center becomes the workers' mean.

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

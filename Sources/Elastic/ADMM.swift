// Linearized round-robin ADMM (section 4 of the paper), multipliers re-parametrized as λ/ρ.
// For the active worker i:
//   λ_i ← λ_i − (x_i − x̃)
//   x_i ← (x_i − η∇F(x_i) + ηρ(λ_i + x̃)) / (1 + ηρ)      (with the new λ_i)
// and then the master recomputes x̃ ← (1/p) Σ_j (x_j − λ_j).

public enum ADMM {
    /// The worker's two updates. `gradient` is ∇F at the worker's current x_i (the λ update does not move x_i).
    @inlinable
    public static func workerStep<T: BinaryFloatingPoint>(
        multiplier lambda: UnsafeMutableBufferPointer<T>, parameters x: UnsafeMutableBufferPointer<T>,
        center c: UnsafeBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
        learningRate eta: T, rho: T
    ) {
        precondition(lambda.count == x.count && x.count == c.count && x.count == g.count, "buffers differ in size")
        for k in 0..<x.count { lambda[k] -= x[k] - c[k] }
        primalStep(multiplier: UnsafeBufferPointer(lambda), parameters: x, center: c, gradient: g, learningRate: eta, rho: rho)
    }

    /// The primal step with λ_i held: x_i ← (x_i − η∇F(x_i) + ηρ(λ_i + x̃)) / (1 + ηρ). `workerStep` is the λ update
    /// followed by this; a worker that takes τ local steps per activation then repeats this τ − 1 times.
    @inlinable
    public static func primalStep<T: BinaryFloatingPoint>(
        multiplier lambda: UnsafeBufferPointer<T>, parameters x: UnsafeMutableBufferPointer<T>,
        center c: UnsafeBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
        learningRate eta: T, rho: T
    ) {
        precondition(lambda.count == x.count && x.count == c.count && x.count == g.count, "buffers differ in size")
        let etaRho = eta * rho
        let scale = 1 / (1 + etaRho)
        for k in 0..<x.count { x[k] = (x[k] - eta * g[k] + etaRho * (lambda[k] + c[k])) * scale }
    }

    /// The master's update: x̃ ← (1/p) Σ_j (x_j − λ_j) over all p workers.
    @inlinable
    public static func updateCenter<T: BinaryFloatingPoint>(
        _ c: UnsafeMutableBufferPointer<T>,
        parameters xs: [UnsafeBufferPointer<T>], multipliers lambdas: [UnsafeBufferPointer<T>]
    ) {
        precondition(!xs.isEmpty && xs.count == lambdas.count, "need one multiplier per worker")
        let inverseP = 1 / T(xs.count)
        for k in 0..<c.count {
            var sum: T = 0
            for j in 0..<xs.count { sum += xs[j][k] - lambdas[j][k] }
            c[k] = sum * inverseP
        }
    }
}

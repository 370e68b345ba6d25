// The synchronous outer-optimizer scheme (DiLoCo and its kin) on F_i(x) = h_i·x²/2: every round each of the p
// workers starts from the center x̃, takes H inner SGD steps of rate γ on its own curvature h_i, and the outer
// optimizer (Elastic's OuterStep) moves the center by the pseudo-gradient Δ = x̃ − mean_i x_i; the workers then
// restart there. A round is linear in the state (x̃, v) — v the outer velocity, absent for outer SGD — so its
// spectral radius decides stability, as the round-robin maps' does.
//
// Closed form (written from the update equations, independently of the probe): a worker ends the round at
// (1 − γh_i)^H x̃, so Δ = m·x̃ with m = 1 − mean_i (1 − γh_i)^H. With s = η_o·m the round map is
//   sgd         [1 − s]
//   heavy-ball  [[1 − s, −η_o·β], [m, β]]                 characteristic z² − (1 + β − s) z + β
//   nesterov    [[1 − s(1 + β), −η_o·β²], [m, β]]         characteristic z² − (1 + β)(1 − s) z + β(1 − s)
// and (Jury's conditions) it is stable iff 0 < s < 2, 0 < s < 2(1 + β), 0 < s < 2(1 + β)/(1 + 2β) respectively.
//
// With a one-round delay of the outer step (`delayed`; the overlap of Streaming DiLoCo, where the workers start the
// next round before the last one's pseudo-gradient is applied) the state gains d, the pseudo-gradient of the round
// before: the outer step applies d, and d ← Δ = m·x̃ of this round. On (x̃, v, d):
//   sgd         [[1, −η_o], [m, 0]] on (x̃, d)                    characteristic z² − z + s: stable iff 0 < s < 1
//   heavy-ball  [[1, −η_o·β, −η_o], [0, β, 1], [m, 0, 0]]
//   nesterov    [[1, −η_o·β², −η_o(1 + β)], [0, β, 1], [m, 0, 0]]
//
// Inner Nesterov (momentum δ, Elastic's Nesterov: u ← δu − γh(x + δu), x ← x + u) on (x, u) is
//   M_i = [[1 − γh_i, δ(1 − γh_i)], [−γh_i, δ(1 − γh_i)]],
// so a worker restarting with u = 0 ends at (M_i^H)[0, 0]·x̃ and everything above holds with
// m = 1 − mean_i (M_i^H)[0, 0]. A velocity kept across rounds joins the state (one u_i per worker, after the
// others); that round has no closed form here and is probed only.

import Elastic

public struct SynchronousOuterScheme: Sendable {
    public var workers: Int
    /// γ and H: the inner SGD's rate and steps per round.
    public var innerRate: Double
    public var innerSteps: Int
    /// Each worker's curvature h_i (one value: every worker's).
    public var curvatures: [Double]
    public var outer: OuterOptimizer
    public var outerRate: Double
    public var outerMomentum: Double
    /// The outer step applies the previous round's pseudo-gradient (a one-round delay).
    public var delayed: Bool
    /// The inner optimizer: SGD (δ = 0) or Nesterov with momentum δ, its velocity reset at each restart or kept.
    public var innerMomentum: Double = 0
    public var keepsInnerVelocity = false

    public init(workers: Int, innerRate: Double, innerSteps: Int, curvatures: [Double], outer: OuterOptimizer,
                outerRate: Double, outerMomentum: Double, delayed: Bool = false, innerMomentum: Double = 0,
                keepsInnerVelocity: Bool = false) {
        precondition(workers >= 1 && innerSteps >= 1 && (curvatures.count == 1 || curvatures.count == workers))
        self.workers = workers
        self.innerRate = innerRate
        self.innerSteps = innerSteps
        self.curvatures = curvatures
        self.outer = outer
        self.outerRate = outerRate
        self.outerMomentum = outerMomentum
        self.delayed = delayed
        self.innerMomentum = innerMomentum
        self.keepsInnerVelocity = keepsInnerVelocity
    }

    /// The workers' velocities are part of the round's state.
    var innerVelocityIsState: Bool { innerMomentum != 0 && keepsInnerVelocity }

    /// x̃, v unless the outer optimizer is SGD, the delayed pseudo-gradient d when the step is delayed, and each
    /// worker's inner velocity when it is kept across rounds.
    public var stateDimension: Int { innerVelocityBase + (innerVelocityIsState ? workers : 0) }
    var delayIndex: Int { outer == .sgd ? 1 : 2 }
    var innerVelocityBase: Int { (outer == .sgd ? 1 : 2) + (delayed ? 1 : 0) }

    func curvature(_ i: Int) -> Double { curvatures.count == 1 ? curvatures[0] : curvatures[i] }

    /// One round applied to the state by the `Elastic` code: the inner steps (LocalStep.sgd on each worker's
    /// gradient h_i·x), the pseudo-gradient (plus `noise`: what the inner steps' gradient noise adds to it) and the
    /// outer step (OuterStep).
    public func round(_ state: inout [Double], noise: Double = 0) {
        // Each worker's position, the center, the outer velocity, the pseudo-gradient and a gradient: one value each.
        let xs = UnsafeMutableBufferPointer<Double>.allocate(capacity: workers), scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: 6)
        defer { xs.deallocate(); scratch.deallocate() }
        xs.initialize(repeating: state[0])
        scratch.initialize(repeating: 0)
        func one(_ k: Int) -> UnsafeMutableBufferPointer<Double> { UnsafeMutableBufferPointer(rebasing: scratch[k..<k + 1]) }
        let center = one(0), velocity = one(1), delta = one(2), gradient = one(3), inner = one(4), lookahead = one(5)
        center[0] = state[0]
        if outer != .sgd { velocity[0] = state[1] }
        for i in 0..<workers {
            let x = UnsafeMutableBufferPointer(rebasing: xs[i..<i + 1])
            if innerMomentum != 0 {
                inner[0] = innerVelocityIsState ? state[innerVelocityBase + i] : 0
                for _ in 0..<innerSteps {
                    Nesterov.lookahead(parameters: UnsafeBufferPointer(x), velocity: UnsafeBufferPointer(inner), momentum: innerMomentum,
                                       into: lookahead)
                    gradient[0] = curvature(i) * lookahead[0]
                    Nesterov.step(parameters: x, velocity: inner, lookaheadGradient: UnsafeBufferPointer(gradient),
                                  learningRate: innerRate, momentum: innerMomentum)
                }
                if innerVelocityIsState { state[innerVelocityBase + i] = inner[0] }
                continue
            }
            for _ in 0..<innerSteps {
                gradient[0] = curvature(i) * x[0]
                LocalStep.sgd(x, gradient: UnsafeBufferPointer(gradient), learningRate: innerRate)
            }
        }
        OuterStep.pseudoGradient(center: UnsafeBufferPointer(center), workers: (0..<workers).map { UnsafeBufferPointer(rebasing: xs[$0..<$0 + 1]) },
                                 into: delta)
        delta[0] += noise
        if delayed {
            // Apply the round before's pseudo-gradient; keep this round's for the next.
            let fresh = delta[0]
            delta[0] = state[delayIndex]
            state[delayIndex] = fresh
        }
        OuterStep.apply(outer, center: center, velocity: velocity, pseudoGradient: UnsafeBufferPointer(delta),
                        learningRate: outerRate, momentum: outerMomentum)
        state[0] = center[0]
        if outer != .sgd { state[1] = velocity[0] }
    }

    /// The round map probed column by column from the `Elastic` code.
    public func probedRoundMap() -> Matrix {
        Matrix.probing(stateDimension) { var s = $0; round(&s); return s }
    }

    /// The pseudo-gradient per unit of center from workers restarting at rest, m = 1 − mean_i (1 − γh_i)^H (inner
    /// SGD) or 1 − mean_i (M_i^H)[0, 0] (inner Nesterov).
    public var pseudoGradientGain: Double {
        1 - (0..<workers).map { innerFactor($0) }.reduce(0, +) / Double(workers)
    }

    /// What H inner steps from (x̃, 0) leave of x̃ at worker i: (1 − γh_i)^H, or (M_i^H)[0, 0] written out.
    func innerFactor(_ i: Int) -> Double {
        guard innerMomentum != 0 else { return pow1(1 - innerRate * curvature(i), innerSteps) }
        var s = (x: 1.0, u: 0.0)
        for _ in 0..<innerSteps { s = innerNesterov(i, s) }
        return s.x
    }

    /// One inner Nesterov step of worker i on (x, u) as the closed form writes it: M_i (x, u).
    func innerNesterov(_ i: Int, _ s: (x: Double, u: Double)) -> (x: Double, u: Double) {
        let gh = innerRate * curvature(i), a = 1 - gh
        return (a * s.x + innerMomentum * a * s.u, -gh * s.x + innerMomentum * a * s.u)
    }

    /// The round map written from the closed form above (not for a kept inner velocity, which has none here).
    public func roundMap() -> Matrix {
        precondition(!innerVelocityIsState, "a round with the inner velocity kept is probed only")
        let m = pseudoGradientGain, s = outerRate * m, beta = outerMomentum
        var f = Matrix(rows: stateDimension, columns: stateDimension)
        if delayed {
            let d = delayIndex
            f[0, 0] = 1
            f[d, 0] = m
            switch outer {
            case .sgd: f[0, d] = -outerRate
            case .heavyBall: f[0, 1] = -outerRate * beta; f[0, d] = -outerRate; f[1, 1] = beta; f[1, d] = 1
            case .nesterov: f[0, 1] = -outerRate * beta * beta; f[0, d] = -outerRate * (1 + beta); f[1, 1] = beta; f[1, d] = 1
            }
            return f
        }
        switch outer {
        case .sgd:
            f[0, 0] = 1 - s
        case .heavyBall:
            f[0, 0] = 1 - s; f[0, 1] = -outerRate * beta; f[1, 0] = m; f[1, 1] = beta
        case .nesterov:
            f[0, 0] = 1 - s * (1 + beta); f[0, 1] = -outerRate * beta * beta; f[1, 0] = m; f[1, 1] = beta
        }
        return f
    }

    /// The spectral radius of the probed round map (LAPACK's dgeev).
    public func radius(solver: EigenSolver? = nil) throws -> (radius: Double, eigenvalues: [Eigenvalue]) {
        let values = try (solver ?? EigenSolver(maxDimension: stateDimension)).eigenvalues(of: probedRoundMap())
        return (values.reduce(0) { max($0, $1.magnitude) }, values)
    }
}

// Gradient noise. With g = h_i x − ξ, ξ of variance σ² independent across workers, steps and coordinates, worker i
// ends its round at a_i^H x̃ + n_i with n_i = γ Σ_j a_i^j ξ (j = 0 … H − 1, a_i = 1 − γh_i), of variance
// γ²σ² Σ_j a_i^{2j}. The pseudo-gradient is then m·x̃ + ν with ν = −mean_i n_i, of variance
//   q = (γ²σ²/p²) Σ_i Σ_j a_i^{2j},
// independent between rounds, so the state follows s' = F s + b ν, b the outer step's response to a unit
// pseudo-gradient from zero (SGD: −η_o; heavy ball: (−η_o, 1); Nesterov: (−η_o(1 + β), 1); delayed: d ← ν). The
// stationary covariance solves C = F C Fᵀ + q b bᵀ when ρ(F) < 1, and its (x̃, x̃) entry is the center's mean-square
// error at the end of a round (the center moves only then).
extension SynchronousOuterScheme {
    /// q, the variance the inner steps' gradient noise σ adds to the pseudo-gradient each round. Inner Nesterov
    /// (restarting at rest): each step's noise γξ enters x and u alike, so x_H carries Σ_j [M_i^j (1, 1)]_0 of them.
    public func pseudoGradientNoiseVariance(sigma: Double) -> Double {
        var sum = 0.0
        for i in 0..<workers {
            let a = 1 - innerRate * curvature(i)
            if innerMomentum != 0 {
                var s = (x: 1.0, u: 1.0)
                for _ in 0..<innerSteps {
                    sum += s.x * s.x
                    s = innerNesterov(i, s)
                }
                continue
            }
            var power = 1.0
            for _ in 0..<innerSteps {
                sum += power
                power *= a * a
            }
        }
        return innerRate * innerRate * sigma * sigma * sum / Double(workers * workers)
    }

    /// b: the round's response to a unit of pseudo-gradient noise from the zero state, probed from the Elastic code.
    public func probedNoiseInput() -> [Double] {
        var s = [Double](repeating: 0, count: stateDimension)
        round(&s, noise: 1)
        return s
    }

    /// The stationary mean-square error of the center at the end of a round under gradient noise σ (per
    /// coordinate of x − x*), from the discrete Lyapunov equation on the probed map; nil when ρ(F) ≥ 1 (it grows
    /// without bound). `LinearGaussian2` does the same for synchronous EASGD.
    public func stationaryCenterMSE(sigma: Double, solver: EigenSolver? = nil) throws -> Double? {
        guard !innerVelocityIsState else {
            throw NoiseModelUnavailable("the center's MSE with the inner velocity kept across rounds is not modelled (its noise carries over rounds)")
        }
        guard try radius(solver: solver).radius < 1 else { return nil }
        let f = probedRoundMap(), b = probedNoiseInput(), q = pseudoGradientNoiseVariance(sigma: sigma)
        // (I − F⊗F) vec C = q vec(b bᵀ), row-major vec: C[i, j] at i·n + j.
        return Self.lyapunov(stateDimension, { f[$0, $1] }, input: b, variance: q)?[0]
    }
}

/// A question the noise model does not answer.
public struct NoiseModelUnavailable: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Gaussian elimination with partial pivoting on an augmented n × (n + 1) system; nil when it is singular.
func solveDense(_ augmented: [[Double]]) -> [Double]? {
    var m = augmented
    let n = m.count
    for col in 0..<n {
        guard let pivot = (col..<n).max(by: { abs(m[$0][col]) < abs(m[$1][col]) }), abs(m[pivot][col]) > 1e-300 else { return nil }
        m.swapAt(col, pivot)
        for row in 0..<n where row != col {
            let factor = m[row][col] / m[col][col]
            if factor != 0 { for k in col...n { m[row][k] -= factor * m[col][k] } }
        }
    }
    return (0..<n).map { m[$0][n] / m[$0][$0] }
}

/// x^n by repeated multiplication, as the inner loop computes it.
private func pow1(_ x: Double, _ n: Int) -> Double {
    var r = 1.0
    for _ in 0..<n { r *= x }
    return r
}

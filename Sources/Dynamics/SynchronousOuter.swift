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

    public init(workers: Int, innerRate: Double, innerSteps: Int, curvatures: [Double], outer: OuterOptimizer,
                outerRate: Double, outerMomentum: Double, delayed: Bool = false) {
        precondition(workers >= 1 && innerSteps >= 1 && (curvatures.count == 1 || curvatures.count == workers))
        self.workers = workers
        self.innerRate = innerRate
        self.innerSteps = innerSteps
        self.curvatures = curvatures
        self.outer = outer
        self.outerRate = outerRate
        self.outerMomentum = outerMomentum
        self.delayed = delayed
    }

    /// x̃, v unless the outer optimizer is SGD, and the delayed pseudo-gradient d when the step is delayed.
    public var stateDimension: Int { (outer == .sgd ? 1 : 2) + (delayed ? 1 : 0) }
    var delayIndex: Int { outer == .sgd ? 1 : 2 }

    func curvature(_ i: Int) -> Double { curvatures.count == 1 ? curvatures[0] : curvatures[i] }

    /// One round applied to the state by the `Elastic` code: the inner steps (LocalStep.sgd on each worker's
    /// gradient h_i·x), the pseudo-gradient and the outer step (OuterStep).
    public func round(_ state: inout [Double]) {
        // Each worker's position, the center, the outer velocity, the pseudo-gradient and a gradient: one value each.
        let xs = UnsafeMutableBufferPointer<Double>.allocate(capacity: workers), scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: 4)
        defer { xs.deallocate(); scratch.deallocate() }
        xs.initialize(repeating: state[0])
        scratch.initialize(repeating: 0)
        func one(_ k: Int) -> UnsafeMutableBufferPointer<Double> { UnsafeMutableBufferPointer(rebasing: scratch[k..<k + 1]) }
        let center = one(0), velocity = one(1), delta = one(2), gradient = one(3)
        center[0] = state[0]
        if outer != .sgd { velocity[0] = state[1] }
        for i in 0..<workers {
            let x = UnsafeMutableBufferPointer(rebasing: xs[i..<i + 1])
            for _ in 0..<innerSteps {
                gradient[0] = curvature(i) * x[0]
                LocalStep.sgd(x, gradient: UnsafeBufferPointer(gradient), learningRate: innerRate)
            }
        }
        OuterStep.pseudoGradient(center: UnsafeBufferPointer(center), workers: (0..<workers).map { UnsafeBufferPointer(rebasing: xs[$0..<$0 + 1]) },
                                 into: delta)
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

    /// The pseudo-gradient per unit of center, m = 1 − mean_i (1 − γh_i)^H.
    public var pseudoGradientGain: Double {
        1 - (0..<workers).map { pow1(1 - innerRate * curvature($0), innerSteps) }.reduce(0, +) / Double(workers)
    }

    /// The round map written from the closed form above.
    public func roundMap() -> Matrix {
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
    public func radius(solver: EigenSolver = EigenSolver(maxDimension: 3)) throws -> (radius: Double, eigenvalues: [Eigenvalue]) {
        let values = try solver.eigenvalues(of: probedRoundMap())
        return (values.reduce(0) { max($0, $1.magnitude) }, values)
    }
}

/// x^n by repeated multiplication, as the inner loop computes it.
private func pow1(_ x: Double, _ n: Int) -> Double {
    var r = 1.0
    for _ in 0..<n { r *= x }
    return r
}

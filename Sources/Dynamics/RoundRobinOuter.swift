// Asynchronous DiLoCo in round-robin order on F(x) = h·x²/2. State (x_1, …, x_p, x̃, v): x_i the center worker i
// pulled at its last arrival (where its next H inner steps start), x̃ the center, v the outer velocity (absent for
// outer SGD). An activation of worker i: H inner SGD steps from x_i, each accumulated (acc ← acc − γ∇F, DOWNPOUR's
// accumulator), then the arrival (OuterStep.applyArrival: the outer step on Δ_i/p = −acc/p) and the pull x_i ← x̃.
// The accumulator is empty between activations, so it is not part of the state.
//
// Closed form (written from the equations, independently of the probe): H steps take x_i to a^H x_i, a = 1 − γh,
// so Δ_i/p = u·x_i with u = (1 − a^H)/p. The arrival is
//   sgd         x̃' = x̃ − η_o u x_i
//   heavy-ball  v' = βv + u x_i;  x̃' = x̃ − η_o β v − η_o u x_i
//   nesterov    v' = βv + u x_i;  x̃' = x̃ − η_o β² v − η_o (1 + β) u x_i
// and x_i' = x̃'. With η_o = p and outer SGD it is DOWNPOUR's activation (x̃' = x̃ + (a^H − 1) x_i); with p = 1 it is
// the synchronous round (Lookahead) on (x̃, v), x_1 = x̃ between rounds.
import Elastic

public struct RoundRobinOuterScheme: RoundRobinScheme {
    public let workers: Int
    /// γ and H: the inner SGD's rate and steps per activation.
    public let innerRate: Double
    public let innerSteps: Int
    public let objective: Quadratic
    public let outer: OuterSettings

    public init(workers: Int, innerRate: Double, innerSteps: Int, objective: Quadratic = Quadratic(), outer: OuterSettings) {
        precondition(workers >= 1 && innerSteps >= 1, "asynchronous DiLoCo needs a worker and an inner step")
        precondition(!outer.delayed, "the round-robin scheme has no delayed outer step")
        self.workers = workers
        self.innerRate = innerRate
        self.innerSteps = innerSteps
        self.objective = objective
        self.outer = outer
    }

    public var stateDimension: Int { workers + (outer.keepsVelocity ? 2 : 1) }
    public var blockSize: Int { 1 }
    public var centerIndex: Int { workers }
    var velocityIndex: Int { workers + 1 }
    public var coordinateNames: [String] { (1...workers).map { "x\($0)" } + ["center"] + (outer.keepsVelocity ? ["velocity"] : []) }

    public func activate(worker i: Int, state s: UnsafeMutableBufferPointer<Double>) {
        let x = UnsafeMutableBufferPointer(rebasing: s[i..<(i + 1)])
        let c = UnsafeMutableBufferPointer(rebasing: s[centerIndex..<(centerIndex + 1)])
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 4) { scratch in
            let g = UnsafeMutableBufferPointer(rebasing: scratch[0..<1])
            let acc = UnsafeMutableBufferPointer(rebasing: scratch[1..<2])
            let unused = UnsafeMutableBufferPointer(rebasing: scratch[2..<3])
            let v = outer.keepsVelocity ? UnsafeMutableBufferPointer(rebasing: s[velocityIndex..<(velocityIndex + 1)]) : unused
            acc[0] = 0
            for _ in 0..<innerSteps {
                objective.gradient(at: UnsafeBufferPointer(x), into: g)
                Downpour.accumulate(acc, gradient: UnsafeBufferPointer(g), learningRate: innerRate)
                LocalStep.sgd(x, gradient: UnsafeBufferPointer(g), learningRate: innerRate)
            }
            OuterStep.applyArrival(outer.optimizer, center: c, velocity: v, accumulated: acc, workers: workers,
                                   learningRate: outer.learningRate, momentum: outer.momentum)
            Downpour.pull(UnsafeBufferPointer(c), into: x)
        }
    }

    /// The arrival written from the closed form above.
    public func activationMatrix(worker i: Int) -> Matrix {
        var aH = 1.0
        for _ in 0..<innerSteps { aH *= 1 - innerRate * objective.h }
        let u = (1 - aH) / Double(workers), eta = outer.learningRate, beta = outer.momentum
        var m = Matrix.identity(stateDimension)
        let c = centerIndex, v = velocityIndex
        // The center's new row; the worker's row is the same (it pulls the new center).
        var centerRow = [Double](repeating: 0, count: stateDimension)
        centerRow[c] = 1
        switch outer.optimizer {
        case .sgd:
            centerRow[i] = -eta * u
        case .heavyBall:
            centerRow[i] = -eta * u
            centerRow[v] = -eta * beta
            m[v, v] = beta
            m[v, i] = u
        case .nesterov:
            centerRow[i] = -eta * (1 + beta) * u
            centerRow[v] = -eta * beta * beta
            m[v, v] = beta
            m[v, i] = u
        }
        for k in 0..<stateDimension {
            m[c, k] = centerRow[k]
            m[i, k] = centerRow[k]
        }
        return m
    }

    public func cyclicPolynomial() -> [Double] {
        outer.keepsVelocity ? sharedPairCyclicPolynomial() : blockCyclicPolynomial()
    }

    /// The cyclic polynomial when each worker owns one coordinate and two coordinates are shared (x̃, v), probed
    /// from worker 0's activation: w' = a·w + b·s, s' = g·w + D·s (b a row, g a column, D 2×2). An eigenvector of
    /// Q = Π·G₁ has w_j = μ^{j−1} w_1, so (z − a) w_1 = b·s and (μI − D) s = g w_1 with z = μ^p; a nonzero solution
    /// needs (z − a) det(μI − D) − b·adj(μI − D)·g = 0, a polynomial of degree p + 2 in μ.
    func sharedPairCyclicPolynomial() -> [Double] {
        let p = workers, c = centerIndex, v = velocityIndex
        var scratch = [Double](repeating: 0, count: stateDimension)
        let rows = [0, c, v]
        let columns = [0, c, v].map { probeWorker0(column: $0, rows: rows, scratch: &scratch) }
        func entry(_ row: Int, _ col: Int) -> Double { columns[col][row] }   // indices into [w, x̃, v]
        let a = entry(0, 0), b1 = entry(0, 1), b2 = entry(0, 2), g1 = entry(1, 0), g2 = entry(2, 0)
        let (d11, d12, d21, d22) = (entry(1, 1), entry(1, 2), entry(2, 1), entry(2, 2))
        let trace = d11 + d22, det = d11 * d22 - d12 * d21
        // b·adj(μI − D)·g = μ(b1 g1 + b2 g2) + (−b1 d22 g1 + b1 d12 g2 + b2 d21 g1 − b2 d11 g2)
        let r1 = b1 * g1 + b2 * g2
        let r0 = -b1 * d22 * g1 + b1 * d12 * g2 + b2 * d21 * g1 - b2 * d11 * g2
        // (μ^p − a)(μ² − tr μ + det) − r1 μ − r0
        var coefficients = [Double](repeating: 0, count: p + 3)
        coefficients[p + 2] += 1
        coefficients[p + 1] -= trace
        coefficients[p] += det
        coefficients[2] -= a
        coefficients[1] += a * trace - r1
        coefficients[0] += -a * det - r0
        return coefficients
    }
}

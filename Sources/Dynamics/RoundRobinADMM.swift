// Round-robin linearized ADMM on the quadratic (section 4). State (λ_1, x_1, …, λ_p, x_p, x̃) ∈ R^{2p+1}.
// Worker i's activation is F3∘F2^τ∘F1 (τ = 1 in the paper; τ > 1 takes τ primal steps per activation):
//   F1: λ_i ← λ_i − (x_i − x̃)
//   F2: x_i ← (x_i − η∇F(x_i) + ηρ(λ_i + x̃)) / (1 + ηρ)
//   F3: x̃ ← (1/p) Σ_j (x_j − λ_j)
import Elastic

public struct RoundRobinADMM: RoundRobinScheme {
    public let workers: Int
    public let eta: Double
    public let rho: Double
    public let objective: Quadratic
    public let tau: Int

    public init(workers: Int, eta: Double, rho: Double, objective: Quadratic = Quadratic(), tau: Int = 1) {
        precondition(workers >= 1, "ADMM needs at least one worker")
        precondition(tau >= 1, "τ must be positive")
        self.workers = workers
        self.eta = eta
        self.rho = rho
        self.objective = objective
        self.tau = tau
    }

    public var blockSize: Int { 2 }

    public var stateDimension: Int { 2 * workers + 1 }
    public var centerIndex: Int { 2 * workers }
    public func multiplierIndex(_ i: Int) -> Int { 2 * i }
    public func parameterIndex(_ i: Int) -> Int { 2 * i + 1 }
    public var coordinateNames: [String] {
        (1...workers).flatMap { ["lambda\($0)", "x\($0)"] } + ["center"]
    }

    public func activate(worker i: Int, state s: UnsafeMutableBufferPointer<Double>) {
        let l = multiplierIndex(i), xi = parameterIndex(i), ci = centerIndex
        let lambda = UnsafeMutableBufferPointer(rebasing: s[l..<(l + 1)])
        let x = UnsafeMutableBufferPointer(rebasing: s[xi..<(xi + 1)])
        let c = UnsafeMutableBufferPointer(rebasing: s[ci..<(ci + 1)])
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 1) { g in
            objective.gradient(at: UnsafeBufferPointer(x), into: g)
            ADMM.workerStep(multiplier: lambda, parameters: x, center: UnsafeBufferPointer(c),
                            gradient: UnsafeBufferPointer(g), learningRate: eta, rho: rho)
            for _ in 1..<tau {
                objective.gradient(at: UnsafeBufferPointer(x), into: g)
                ADMM.primalStep(multiplier: UnsafeBufferPointer(lambda), parameters: x, center: UnsafeBufferPointer(c),
                                gradient: UnsafeBufferPointer(g), learningRate: eta, rho: rho)
            }
        }
        let base = UnsafeBufferPointer(s)
        let xs = (0..<workers).map { UnsafeBufferPointer(rebasing: base[parameterIndex($0)..<(parameterIndex($0) + 1)]) }
        let ls = (0..<workers).map { UnsafeBufferPointer(rebasing: base[multiplierIndex($0)..<(multiplierIndex($0) + 1)]) }
        ADMM.updateCenter(c, parameters: xs, multipliers: ls)
    }

    public func activationMatrix(worker i: Int) -> Matrix {
        let n = stateDimension, l = multiplierIndex(i), x = parameterIndex(i), c = centerIndex
        var f1 = Matrix.identity(n)
        f1[l, x] = -1
        f1[l, c] = 1
        var f2 = Matrix.identity(n)
        let etaRho = eta * rho
        f2[x, x] = (1 - eta * objective.h) / (1 + etaRho)
        f2[x, l] = etaRho / (1 + etaRho)
        f2[x, c] = etaRho / (1 + etaRho)
        var f3 = Matrix.identity(n)
        f3[c, c] = 0
        for j in 0..<workers {
            f3[c, parameterIndex(j)] = 1 / Double(workers)
            f3[c, multiplierIndex(j)] = -1 / Double(workers)
        }
        var local = f1
        for _ in 0..<tau { local = f2 * local }
        return f3 * local
    }

    /// With Q = Π·G₁, an eigenvector with μ ≠ 0 has w_j = μ^{j−1} w_1 (w = (λ, x)), x̃ = s(μ)·eᵀw_1/p with
    /// s(μ) = Σ_{j<p} μ^j and e = (−1, 1), and det(μ^p I − A − (s(μ)/p)·b eᵀ) = 0, where w_1' = A w_1 + b x̃ is
    /// worker 0's local update. Expanded: z² − tr(A) z + det(A) − (s(μ)/p)(k₁ z − k₀) with z = μ^p,
    /// k₁ = eᵀb, k₀ = eᵀ adj(A) b: a polynomial of degree 2p (the remaining eigenvalue of F is 0).
    public func cyclicPolynomial() -> [Double] {
        var scratch = [Double](repeating: 0, count: stateDimension)
        let rows = [0, 1]
        let colL = probeWorker0(column: 0, rows: rows, scratch: &scratch)
        let colX = probeWorker0(column: 1, rows: rows, scratch: &scratch)
        let b = probeWorker0(column: centerIndex, rows: rows, scratch: &scratch)
        let (a11, a21, a12, a22) = (colL[0], colL[1], colX[0], colX[1])
        let trace = a11 + a22, det = a11 * a22 - a12 * a21
        let k1 = b[1] - b[0]
        // adj(A) = [[a22, −a12], [−a21, a11]];  eᵀ adj(A) b with e = (−1, 1)
        let k0 = -(a22 * b[0] - a12 * b[1]) + (-a21 * b[0] + a11 * b[1])
        let p = workers, invP = 1 / Double(p)
        var c = [Double](repeating: 0, count: 2 * p + 1)
        c[2 * p] += 1
        c[p] -= trace
        c[0] += det
        for j in p..<(2 * p) { c[j] -= k1 * invP }
        for j in 0..<p { c[j] += k0 * invP }
        return c
    }
}

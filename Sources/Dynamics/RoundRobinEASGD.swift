// Round-robin EASGD on the quadratic. State (x_1, …, x_p, x̃) ∈ R^{p+1}. For the active worker i
// (Algorithm 1 with τ = 1, gradient taken at the pre-exchange point):
//   x_i ← x_i − η∇F(x_i) − α(x_i − x̃);   x̃ ← x̃ + α(x_i − x̃).
import Elastic

public struct RoundRobinEASGD: RoundRobinScheme {
    public let workers: Int
    public let eta: Double
    public let alpha: Double
    public let objective: Quadratic

    public init(workers: Int, eta: Double, alpha: Double, objective: Quadratic = Quadratic()) {
        precondition(workers >= 1, "EASGD needs at least one worker")
        self.workers = workers
        self.eta = eta
        self.alpha = alpha
        self.objective = objective
    }

    public var stateDimension: Int { workers + 1 }
    public var centerIndex: Int { workers }
    public var coordinateNames: [String] { (1...workers).map { "x\($0)" } + ["center"] }

    public func activate(worker i: Int, state s: UnsafeMutableBufferPointer<Double>) {
        let x = UnsafeMutableBufferPointer(rebasing: s[i..<(i + 1)])
        let c = UnsafeMutableBufferPointer(rebasing: s[centerIndex..<(centerIndex + 1)])
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 1) { g in
            objective.gradient(at: UnsafeBufferPointer(x), into: g)
            ElasticExchange.exchange(worker: x, center: c, alpha: alpha)
            LocalStep.sgd(x, gradient: UnsafeBufferPointer(g), learningRate: eta)
        }
    }

    public func activationMatrix(worker i: Int) -> Matrix {
        var m = Matrix.identity(stateDimension)
        let c = centerIndex
        m[i, i] = 1 - eta * objective.h - alpha
        m[i, c] = alpha
        m[c, i] = alpha
        m[c, c] = 1 - alpha
        return m
    }

    /// With Q = Π·G₁ (worker 0's activation followed by the cyclic relabelling), an eigenvector has
    /// x_j = μ^{j−1} x_1 and (μ^p − k₁₁)(μ − k₂₂) − k₁₂k₂₁ = 0, where (x', x̃') = K (x, x̃) is worker 0's block.
    public func cyclicPolynomial() -> [Double] {
        var scratch = [Double](repeating: 0, count: stateDimension)
        let rows = [0, centerIndex]
        let colX = probeWorker0(column: 0, rows: rows, scratch: &scratch)
        let colC = probeWorker0(column: centerIndex, rows: rows, scratch: &scratch)
        let (k11, k21, k12, k22) = (colX[0], colX[1], colC[0], colC[1])
        var c = [Double](repeating: 0, count: workers + 2)
        c[workers + 1] += 1
        c[workers] -= k22
        c[1] -= k11
        c[0] += k11 * k22 - k12 * k21
        return c
    }
}

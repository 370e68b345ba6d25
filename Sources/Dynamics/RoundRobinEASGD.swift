// Round-robin EASGD on the quadratic. State (x_1, …, x_p, x̃) ∈ R^{p+1}. An activation of worker i is τ ticks
// of its clock under Algorithm 1, starting at a multiple of τ: the first tick exchanges with the center and
// steps with the gradient at the pre-exchange point,
//   x_i ← x_i − η∇F(x_i) − α(x_i − x̃);   x̃ ← x̃ + α(x_i − x̃),
// and the other τ − 1 ticks are local SGD steps x_i ← x_i − η∇F(x_i). (τ = 1 is the paper's section 4.)
import Elastic

public struct RoundRobinEASGD: RoundRobinScheme {
    public let workers: Int
    public let eta: Double
    public let alpha: Double
    public let objective: Quadratic
    public let tau: Int

    public init(workers: Int, eta: Double, alpha: Double, objective: Quadratic = Quadratic(), tau: Int = 1) {
        precondition(workers >= 1, "EASGD needs at least one worker")
        precondition(tau >= 1, "τ must be positive")
        self.workers = workers
        self.eta = eta
        self.alpha = alpha
        self.objective = objective
        self.tau = tau
    }

    public var blockSize: Int { 1 }

    public var stateDimension: Int { workers + 1 }
    public var centerIndex: Int { workers }
    public var coordinateNames: [String] { (1...workers).map { "x\($0)" } + ["center"] }

    public func activate(worker i: Int, state s: UnsafeMutableBufferPointer<Double>) {
        let x = UnsafeMutableBufferPointer(rebasing: s[i..<(i + 1)])
        let c = UnsafeMutableBufferPointer(rebasing: s[centerIndex..<(centerIndex + 1)])
        ticks(x, noise: nil) { ElasticExchange.exchange(worker: x, center: c, alpha: alpha) }
    }

    /// One activation's τ ticks on the worker's x: the gradient at the pre-exchange point (less the tick's gradient
    /// noise ξ_k, when given), `exchange` on the first tick, the SGD step. The coded exchange's noise model runs the
    /// same ticks with its own exchange (CodedExchangeNoise.swift).
    @inline(__always)
    func ticks(_ x: UnsafeMutableBufferPointer<Double>, noise xi: [Double]?, exchange: () -> Void) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 1) { g in
            for tick in 0..<tau {
                objective.gradient(at: UnsafeBufferPointer(x), into: g)
                if let xi { g[0] -= xi[tick] }
                if tick == 0 { exchange() }
                LocalStep.sgd(x, gradient: UnsafeBufferPointer(g), learningRate: eta)
            }
        }
    }

    public func activationMatrix(worker i: Int) -> Matrix {
        var m = Matrix.identity(stateDimension)
        let c = centerIndex
        m[i, i] = 1 - eta * objective.h - alpha
        m[i, c] = alpha
        m[c, i] = alpha
        m[c, c] = 1 - alpha
        var local = Matrix.identity(stateDimension)
        local[i, i] = 1 - eta * objective.h
        for _ in 1..<tau { m = local * m }
        return m
    }

    /// With Q = Π·G₁ (worker 0's activation followed by the cyclic relabelling), an eigenvector has
    /// x_j = μ^{j−1} x_1 and (μ^p − k₁₁)(μ − k₂₂) − k₁₂k₂₁ = 0, where (x', x̃') = K (x, x̃) is worker 0's block.
    public func cyclicPolynomial() -> [Double] { blockCyclicPolynomial() }
}

// Round-robin EAMSGD (Algorithm 2) on the quadratic. State (x_1, v_1, …, x_p, v_p, x̃) ∈ R^{2p+1}: each worker
// keeps its velocity. An activation of worker i is τ ticks of its clock starting at a multiple of τ. The first
// tick takes the gradient at the look-ahead point of the pre-exchange iterate, exchanges with the center, then
// moves with its velocity:
//   g = ∇F(x_i + δv_i);   x_i ← x_i − α(x_i − x̃), x̃ ← x̃ + α(x_i − x̃);   v_i ← δv_i − ηg;   x_i ← x_i + v_i
// and the other τ − 1 ticks are local Nesterov steps. With δ = 0 this is round-robin EASGD exactly.
import Elastic

public struct RoundRobinEAMSGD: RoundRobinScheme {
    public let workers: Int
    public let eta: Double
    public let alpha: Double
    public let momentum: Double
    public let objective: Quadratic
    public let tau: Int

    public init(workers: Int, eta: Double, alpha: Double, momentum: Double, objective: Quadratic = Quadratic(), tau: Int = 1) {
        precondition(workers >= 1, "EAMSGD needs at least one worker")
        precondition(tau >= 1, "τ must be positive")
        self.workers = workers
        self.eta = eta
        self.alpha = alpha
        self.momentum = momentum
        self.objective = objective
        self.tau = tau
    }

    public var stateDimension: Int { 2 * workers + 1 }
    public var blockSize: Int { 2 }
    public var centerIndex: Int { 2 * workers }
    public func parameterIndex(_ i: Int) -> Int { 2 * i }
    public func velocityIndex(_ i: Int) -> Int { 2 * i + 1 }
    public var coordinateNames: [String] { (1...workers).flatMap { ["x\($0)", "v\($0)"] } + ["center"] }

    public func activate(worker i: Int, state s: UnsafeMutableBufferPointer<Double>) {
        let xi = parameterIndex(i), vi = velocityIndex(i), ci = centerIndex
        let x = UnsafeMutableBufferPointer(rebasing: s[xi..<(xi + 1)])
        let v = UnsafeMutableBufferPointer(rebasing: s[vi..<(vi + 1)])
        let c = UnsafeMutableBufferPointer(rebasing: s[ci..<(ci + 1)])
        ticks(x, v, noise: nil) { ElasticExchange.exchange(worker: x, center: c, alpha: alpha) }
    }

    /// One activation's τ ticks on the worker's (x, v): the gradient at the look-ahead point of the pre-exchange
    /// iterate (less the tick's gradient noise ξ_k, when given), `exchange` on the first tick, the Nesterov step. The
    /// coded exchange's noise model runs the same ticks with its own exchange (CodedExchangeNoise.swift).
    @inline(__always)
    func ticks(_ x: UnsafeMutableBufferPointer<Double>, _ v: UnsafeMutableBufferPointer<Double>, noise xi: [Double]?, exchange: () -> Void) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2) { scratch in
            let y = UnsafeMutableBufferPointer(rebasing: scratch[0..<1])
            let g = UnsafeMutableBufferPointer(rebasing: scratch[1..<2])
            for tick in 0..<tau {
                Nesterov.lookahead(parameters: UnsafeBufferPointer(x), velocity: UnsafeBufferPointer(v), momentum: momentum, into: y)
                objective.gradient(at: UnsafeBufferPointer(y), into: g)
                if let xi { g[0] -= xi[tick] }
                if tick == 0 { exchange() }
                Nesterov.step(parameters: x, velocity: v, lookaheadGradient: UnsafeBufferPointer(g), learningRate: eta, momentum: momentum)
            }
        }
    }

    /// From the equations: with e = ηh, a tick without exchange is v' = δ(1 − e)v − e x, x' = x + v';
    /// the exchange tick adds −α(x − x̃) to x' and α(x − x̃) to x̃.
    public func activationMatrix(worker i: Int) -> Matrix {
        let n = stateDimension, x = parameterIndex(i), v = velocityIndex(i), c = centerIndex
        let e = eta * objective.h, d = momentum
        var first = Matrix.identity(n)
        // v' = δv − η h (x + δv) = −e·x + δ(1 − e)·v
        // x' = x − α(x − x̃) + v'
        first[v, x] = -e
        first[v, v] = d * (1 - e)
        first[x, x] = 1 - alpha - e
        first[x, v] = d * (1 - e)
        first[x, c] = alpha
        first[c, x] = alpha
        first[c, c] = 1 - alpha
        var local = Matrix.identity(n)
        local[v, x] = -e
        local[v, v] = d * (1 - e)
        local[x, x] = 1 - e
        local[x, v] = d * (1 - e)
        var m = first
        for _ in 1..<tau { m = local * m }
        return m
    }

    public func cyclicPolynomial() -> [Double] { blockCyclicPolynomial() }
}

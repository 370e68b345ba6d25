// Round-robin DOWNPOUR on the quadratic. State (x_1, …, x_p, x̃) ∈ R^{p+1}. An activation of worker i: τ local
// SGD steps, each also accumulated (acc ← acc − η∇F(x_i), starting from acc = 0); then the worker pushes the
// sum to the master (x̃ ← x̃ + acc) and pulls the center (x_i ← x̃). The accumulator is empty between
// activations, so it is not part of the state.
import Elastic

public struct RoundRobinDownpour: RoundRobinScheme {
    public let workers: Int
    public let eta: Double
    public let objective: Quadratic
    public let tau: Int

    public init(workers: Int, eta: Double, objective: Quadratic = Quadratic(), tau: Int = 1) {
        precondition(workers >= 1, "DOWNPOUR needs at least one worker")
        precondition(tau >= 1, "τ must be positive")
        self.workers = workers
        self.eta = eta
        self.objective = objective
        self.tau = tau
    }

    public var stateDimension: Int { workers + 1 }
    public var blockSize: Int { 1 }
    public var centerIndex: Int { workers }
    public var coordinateNames: [String] { (1...workers).map { "x\($0)" } + ["center"] }

    public func activate(worker i: Int, state s: UnsafeMutableBufferPointer<Double>) {
        let x = UnsafeMutableBufferPointer(rebasing: s[i..<(i + 1)])
        let c = UnsafeMutableBufferPointer(rebasing: s[centerIndex..<(centerIndex + 1)])
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2) { scratch in
            let g = UnsafeMutableBufferPointer(rebasing: scratch[0..<1])
            let acc = UnsafeMutableBufferPointer(rebasing: scratch[1..<2])
            acc[0] = 0
            for _ in 0..<tau {
                objective.gradient(at: UnsafeBufferPointer(x), into: g)
                Downpour.accumulate(acc, gradient: UnsafeBufferPointer(g), learningRate: eta)
                LocalStep.sgd(x, gradient: UnsafeBufferPointer(g), learningRate: eta)
            }
            Downpour.push(acc, into: c)
            Downpour.pull(UnsafeBufferPointer(c), into: x)
        }
    }

    /// From the equations: τ steps take x_i to a^τ x_i (a = 1 − ηh), so acc = (a^τ − 1) x_i and
    /// x̃' = x̃ + (a^τ − 1) x_i = x_i'.
    public func activationMatrix(worker i: Int) -> Matrix {
        var aTau = 1.0
        for _ in 0..<tau { aTau *= 1 - eta * objective.h }
        var m = Matrix.identity(stateDimension)
        let c = centerIndex
        m[c, i] = aTau - 1
        m[c, c] = 1
        m[i, i] = aTau - 1
        m[i, c] = 1
        return m
    }

    public func cyclicPolynomial() -> [Double] { blockCyclicPolynomial() }
}

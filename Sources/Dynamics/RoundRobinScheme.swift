// The round-robin scheme of section 4: at global time t only worker i = (t mod p) + 1 is active;
// one round is p consecutive activations. A scheme knows how one activation changes the state
// (running the `Elastic` update code), and the same activation as a matrix written from the equations.
import Elastic

public protocol RoundRobinScheme: Sendable {
    /// The number of workers p.
    var workers: Int { get }
    /// The size of the state vector.
    var stateDimension: Int { get }
    /// Coordinates per worker: worker i owns k·i ..< k·(i+1); the center is the last coordinate.
    var blockSize: Int { get }
    /// Names of the state's coordinates, in order (for CSV headers).
    var coordinateNames: [String] { get }
    /// Worker i's activation (0-based i), applied in place by the `Elastic` update functions.
    func activate(worker i: Int, state: UnsafeMutableBufferPointer<Double>)
    /// The same activation as a matrix, written independently from the paper's equations.
    func activationMatrix(worker i: Int) -> Matrix
    /// Coefficients c_0 … c_d (ascending, c_d = 1) of the cyclic polynomial: its roots μ give every nonzero
    /// eigenvalue μ^p of the round map (see `CyclicStructure.swift`). Built from a probe of worker 0's activation.
    func cyclicPolynomial() -> [Double]
}

extension RoundRobinScheme {
    /// One round: workers 0, 1, …, p−1 in turn.
    public func round(_ state: UnsafeMutableBufferPointer<Double>) {
        for i in 0..<workers { activate(worker: i, state: state) }
    }

    /// The round map F = M_p ⋯ M_1 from the closed-form activation matrices.
    public func roundMap() -> Matrix {
        var f = activationMatrix(worker: 0)
        for i in 1..<max(workers, 1) { f = activationMatrix(worker: i) * f }
        return f
    }

    /// The round map probed column by column: one round of the `Elastic` code applied to each basis vector.
    public func probedRoundMap() -> Matrix { probe { round($0) } }

    /// Worker i's activation probed column by column from the `Elastic` code.
    public func probedActivationMatrix(worker w: Int) -> Matrix { probe { activate(worker: w, state: $0) } }

    /// The matrix of a linear map of the state, one column per basis vector.
    private func probe(_ apply: (UnsafeMutableBufferPointer<Double>) -> Void) -> Matrix {
        let n = stateDimension
        var m = Matrix(rows: n, columns: n)
        var s = [Double](repeating: 0, count: n)
        for k in 0..<n {
            for i in 0..<n { s[i] = 0 }
            s[k] = 1
            s.withUnsafeMutableBufferPointer { apply($0) }
            for i in 0..<n { m[i, k] = s[i] }
        }
        return m
    }

    /// Entry (row, column) of worker 0's activation, probed from the `Elastic` code with a scratch state.
    func probeWorker0(column k: Int, rows wanted: [Int], scratch s: inout [Double]) -> [Double] {
        for i in 0..<s.count { s[i] = 0 }
        s[k] = 1
        s.withUnsafeMutableBufferPointer { activate(worker: 0, state: $0) }
        return wanted.map { s[$0] }
    }
}

/// The coupling between a worker and the center: the paper's ρ, or the moving rate α = η·ρ.
public enum Coupling: Sendable, Equatable {
    case rho(Double)
    case alpha(Double)

    public func rho(eta: Double) -> Double {
        switch self {
        case .rho(let r): return r
        case .alpha(let a): return a / eta
        }
    }

    public func alpha(eta: Double) -> Double {
        switch self {
        case .rho(let r): return eta * r
        case .alpha(let a): return a
        }
    }
}

/// Build the scheme for a method at one parameter point. `momentum` is EAMSGD's δ; `tau` the local steps per
/// activation; DOWNPOUR ignores the coupling; asynchronous DiLoCo takes `outer` (DiLoCo's defaults when nil), `eta`
/// being its inner rate and `tau` its inner steps.
/// Only the algorithms with `hasRoundRobinMap` have a scheme.
public func makeScheme(_ method: Algorithm, workers: Int, eta: Double, coupling: Coupling, h: Double,
                       momentum: Double = 0, tau: Int = 1, outer: OuterSettings? = nil) -> any RoundRobinScheme {
    precondition(method.hasRoundRobinMap, "\(method.rawValue) has no round-robin map")
    let objective = Quadratic(h: h)
    switch method {
    case .easgd:
        return RoundRobinEASGD(workers: workers, eta: eta, alpha: coupling.alpha(eta: eta), objective: objective, tau: tau)
    case .admm:
        return RoundRobinADMM(workers: workers, eta: eta, rho: coupling.rho(eta: eta), objective: objective, tau: tau)
    case .eamsgd:
        return RoundRobinEAMSGD(workers: workers, eta: eta, alpha: coupling.alpha(eta: eta), momentum: momentum,
                                objective: objective, tau: tau)
    case .downpour:
        return RoundRobinDownpour(workers: workers, eta: eta, objective: objective, tau: tau)
    case .asyncDiloco:
        return RoundRobinOuterScheme(workers: workers, innerRate: eta, innerSteps: tau, objective: objective, outer: outer ?? OuterSettings())
    default:
        preconditionFailure("\(method.rawValue) has no round-robin map")
    }
}

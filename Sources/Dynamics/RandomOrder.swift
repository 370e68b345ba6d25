// Random-order asynchrony: at each step one worker, chosen uniformly at random, performs its activation F_i
// (the same activation as in the round-robin scheme, probed from the `Elastic` code). The scheme is
// mean-square stable iff the second-moment map
//   T(C) = (1/p) Σ_i F_i C F_iᵀ,   C = E[s sᵀ],
// has spectral radius < 1. T has size n² × n² (n = kp + 1), but it needs much less:
//
// Symmetry. Relabelling the workers permutes the F_i, so T commutes with every relabelling P: T(PCPᵀ) = P T(C) Pᵀ.
// T maps the cone of positive semi-definite matrices into itself, so its spectral radius is an eigenvalue with a
// PSD eigenvector C* (Krein–Rutman). Averaging C* over all relabellings gives a PSD eigenvector for the same
// eigenvalue that is invariant under relabelling (its trace is unchanged, so it is not zero). So ρ(T) is the
// spectral radius of T restricted to symmetric, relabelling-invariant matrices. Those are fixed by
//   C[x̃, x̃];  C[x̃, (i,a)] for each a;  C[(i,a),(i,b)] for a ≤ b;  C[(i,a),(j,b)] for i ≠ j and a ≤ b
// (the last block is symmetric in a, b by invariance under swapping i and j): 1 + k + k(k+1) numbers for
// p ≥ 2 (k = coordinates per worker), 4 for EASGD and 9 for ADMM and EAMSGD, whatever p is.
// The cost per point is that many applications of T, each p products of n×n matrices, so it grows like p⁴.
//
// Units: ρ(T) is per activation. A round of the round-robin scheme has p activations, so a map reports the
// mean-square radius per round, ρ(T)^{p/2}, which is comparable with the round map's |eigenvalue|.

import Elastic
import Foundation

public struct RandomOrderScheme {
    public let scheme: any RoundRobinScheme
    public let activations: [Matrix]
    private let transposes: [Matrix]

    public init(_ scheme: any RoundRobinScheme) {
        self.scheme = scheme
        activations = (0..<scheme.workers).map { scheme.probedActivationMatrix(worker: $0) }
        transposes = activations.map { a in
            var t = Matrix(rows: a.columns, columns: a.rows)
            for i in 0..<a.rows { for j in 0..<a.columns { t[j, i] = a[i, j] } }
            return t
        }
    }

    public var workers: Int { scheme.workers }
    public var stateDimension: Int { scheme.stateDimension }

    /// T(C) = (1/p) Σ_i F_i C F_iᵀ.
    public func secondMomentStep(_ c: Matrix) -> Matrix {
        var sum = Matrix(rows: c.rows, columns: c.columns)
        for i in 0..<workers {
            let term = activations[i] * c * transposes[i]
            for k in 0..<sum.storage.count { sum.storage[k] += term.storage[k] }
        }
        return sum.scaled(by: 1 / Double(workers))
    }

    /// The whole operator on vec(C) (column-major), n² × n²: the reference for the reduction.
    public func fullOperator() -> Matrix {
        let n = stateDimension
        var t = Matrix(rows: n * n, columns: n * n)
        for col in 0..<(n * n) {
            var e = Matrix(rows: n, columns: n)
            e.storage[col] = 1
            let image = secondMomentStep(e)
            for row in 0..<(n * n) { t[row, col] = image.storage[row] }
        }
        return t
    }

    // MARK: The relabelling-invariant reduction

    private var k: Int { scheme.blockSize }
    private var center: Int { stateDimension - 1 }
    private func index(_ worker: Int, _ a: Int) -> Int { worker * k + a }

    /// Number of coordinates of the invariant symmetric matrices.
    public var reducedDimension: Int { 1 + k + k * (k + 1) / 2 + (workers >= 2 ? k * (k + 1) / 2 : 0) }

    private func build(_ coordinates: [Double]) -> Matrix {
        let n = stateDimension, p = workers
        var c = Matrix(rows: n, columns: n)
        var q = 0
        c[center, center] = coordinates[q]; q += 1
        for a in 0..<k {
            for i in 0..<p { c[center, index(i, a)] = coordinates[q]; c[index(i, a), center] = coordinates[q] }
            q += 1
        }
        for a in 0..<k { for b in a..<k {
            for i in 0..<p { c[index(i, a), index(i, b)] = coordinates[q]; c[index(i, b), index(i, a)] = coordinates[q] }
            q += 1
        } }
        if p >= 2 {
            for a in 0..<k { for b in a..<k {
                for i in 0..<p { for j in 0..<p where j != i {
                    c[index(i, a), index(j, b)] = coordinates[q]
                    c[index(i, b), index(j, a)] = coordinates[q]
                } }
                q += 1
            } }
        }
        return c
    }

    private func read(_ c: Matrix) -> [Double] {
        var out = [c[center, center]]
        for a in 0..<k { out.append(c[center, index(0, a)]) }
        for a in 0..<k { for b in a..<k { out.append(c[index(0, a), index(0, b)]) } }
        if workers >= 2 { for a in 0..<k { for b in a..<k { out.append(c[index(0, a), index(1, b)]) } } }
        return out
    }

    /// T restricted to the relabelling-invariant symmetric matrices, in the coordinates above.
    public func reducedOperator() -> Matrix {
        Matrix.probing(reducedDimension) { read(secondMomentStep(build($0))) }
    }

    /// ρ(T), per activation.
    public func secondMomentRadius(solver: EigenSolver) throws -> Double {
        try solver.spectralRadius(of: reducedOperator())
    }

    /// The mean-square radius per round of p activations, ρ(T)^{p/2}.
    public func meanSquareRadiusPerRound(solver: EigenSolver) throws -> Double {
        pow(try secondMomentRadius(solver: solver), Double(workers) / 2)
    }

    /// Monte-Carlo with the `Elastic` code: E[s sᵀ] after `steps` random activations from `start`, over `runs`
    /// independent runs (worker choices from `seed`), and the standard error of its trace E‖s‖².
    public func monteCarloSecondMoment(from start: [Double], steps: Int, runs: Int, seed: UInt64)
        -> (mean: Matrix, traceStandardError: Double) {
        let n = stateDimension
        var sum = Matrix(rows: n, columns: n)
        var rng = SplitMix64(seed: seed)
        var s = start
        var norms: [Double] = []
        norms.reserveCapacity(runs)
        for _ in 0..<runs {
            for k in 0..<n { s[k] = start[k] }
            s.withUnsafeMutableBufferPointer { sp in
                for _ in 0..<steps { scheme.activate(worker: rng.nextInt(below: workers), state: sp) }
            }
            for i in 0..<n { for j in 0..<n { sum[i, j] += s[i] * s[j] } }
            norms.append(s.reduce(0) { $0 + $1 * $1 })
        }
        let mean = norms.reduce(0, +) / Double(runs)
        let variance = norms.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(runs - 1)
        return (sum.scaled(by: 1 / Double(runs)), (variance / Double(runs)).squareRoot())
    }
}

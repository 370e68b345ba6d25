import Foundation

// The fast path to the spectral radius of a round-robin map.
//
// Worker i's activation is worker 1's activation conjugated by the cyclic relabelling Π of the workers:
// G_i = Π^{−(i−1)} G_1 Π^{i−1}. Hence the round map is F = G_p ⋯ G_1 = (Π G_1)^p, and its eigenvalues
// are the p-th powers of those of Q = Π G_1. Q is a shift with one worker's block filled in, so its
// eigenvectors are geometric (w_j = μ^{j−1} w_1) and its eigenvalues are the roots of a small structured
// polynomial (each scheme's `cyclicPolynomial()`), of degree p+1 (EASGD) or 2p (ADMM).
// ρ(F) = max|μ|^p. The tests hold this against dgeev on the probed F.

/// ρ(F) = max|μ|^p from the largest root of the cyclic polynomial.
func roundMapRadius(largestRootMagnitude: Double, workers: Int) -> Double {
    pow(largestRootMagnitude, Double(workers))
}

extension RoundRobinScheme {
    /// ρ(F) from the roots of the cyclic polynomial (LAPACK dhseqr on its companion matrix).
    public func spectralRadiusFromCyclicStructure(solver: EigenSolver) throws -> Double {
        let roots = try solver.roots(ofMonic: cyclicPolynomial())
        return roundMapRadius(largestRootMagnitude: roots.reduce(0) { max($0, $1.magnitude) }, workers: workers)
    }

    /// Every eigenvalue of F (dgeev on the probed round map): the reference path, used by `easgd radius`.
    public func roundMapEigenvalues(solver: EigenSolver) throws -> [Eigenvalue] {
        try solver.eigenvalues(of: probedRoundMap())
    }
}

extension RoundRobinScheme {
    /// The cyclic polynomial of a scheme whose workers each own a block of k = 1 or 2 coordinates
    /// (worker i's block starts at k·i) and a center at the last index that persists between activations
    /// (EASGD, EAMSGD, DOWNPOUR). Worker 0's activation acts on its block w and the center c as
    /// w' = A w + b c, c' = gᵀw + d c. With Q = Π·G₁, an eigenvector has w_j = μ^{j−1} w_1 and
    ///   det(zI − A)(μ − d) − gᵀ adj(zI − A) b = 0,  z = μ^p,
    /// a polynomial of degree kp + 1 in μ. For k = 2, adj(zI − A) = zI + adj(−A).
    func blockCyclicPolynomial() -> [Double] {
        let k = blockSize, p = workers, center = stateDimension - 1
        precondition(k == 1 || k == 2, "block cyclic polynomial for blocks of 1 or 2 coordinates")
        precondition(center == k * p, "the center must follow the workers' blocks")
        var scratch = [Double](repeating: 0, count: stateDimension)
        let rows = Array(0..<k) + [center]
        let columns = (Array(0..<k) + [center]).map { probeWorker0(column: $0, rows: rows, scratch: &scratch) }
        // columns[col][row]: A = rows/cols 0..<k, b = column center rows 0..<k, gᵀ = row center cols 0..<k, d.
        func entry(_ row: Int, _ col: Int) -> Double { columns[col][row] }
        let d = entry(k, k)
        var c = [Double](repeating: 0, count: k * p + 2)
        if k == 1 {
            let a = entry(0, 0), b = entry(0, 1), g = entry(1, 0)
            // (z − a)(μ − d) − g b
            c[p + 1] += 1
            c[p] -= d
            c[1] -= a
            c[0] += a * d - g * b
        } else {
            let (a11, a12, a21, a22) = (entry(0, 0), entry(0, 1), entry(1, 0), entry(1, 1))
            let (b1, b2) = (entry(0, 2), entry(1, 2))
            let (g1, g2) = (entry(2, 0), entry(2, 1))
            let trace = a11 + a22, det = a11 * a22 - a12 * a21
            // gᵀ adj(zI − A) b = (gᵀb) z + gᵀ adj(−A) b, adj(−A) = [[−a22, a12], [a21, −a11]]
            let r1 = g1 * b1 + g2 * b2
            let r0 = g1 * (-a22 * b1 + a12 * b2) + g2 * (a21 * b1 - a11 * b2)
            // (z² − tr z + det)(μ − d) − r1 z − r0, z = μ^p
            c[2 * p + 1] += 1
            c[2 * p] -= d
            c[p + 1] -= trace
            c[p] += trace * d - r1
            c[1] += det
            c[0] += -det * d - r0
        }
        return c
    }
}

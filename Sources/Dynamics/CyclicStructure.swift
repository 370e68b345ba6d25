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

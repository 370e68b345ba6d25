// Spectral radii along a row of a map, fast: neighbouring grid points have nearby cyclic polynomials,
// so the previous point's roots start an Aberth–Ehrlich iteration (all roots at once, cubic convergence).
// A point is accepted only if every correction fell below `tolerance` (relative) within `maxIterations`,
// no two roots coincide, and the roots reproduce Vieta's sum −c_{d−1}; otherwise LAPACK (dhseqr on the
// companion matrix) solves it from scratch. The first point of a row always goes to LAPACK.

import Foundation

public final class RootTracker {
    let solver: EigenSolver
    private var re: [Double] = []
    private var im: [Double] = []
    private var warm = false
    public var tolerance = 1e-14
    public var maxIterations = 12
    /// How many points were solved by LAPACK (cold start or a rejected tracking step) and by tracking.
    public private(set) var lapackSolves = 0
    public private(set) var trackedSolves = 0

    public init(solver: EigenSolver) { self.solver = solver }

    /// Forget the previous roots (the next point is solved by LAPACK).
    public func reset() { warm = false }

    public func spectralRadius(_ scheme: some RoundRobinScheme) throws -> Double {
        let c = scheme.cyclicPolynomial()
        if !(warm && re.count == c.count - 1 && track(c)) {
            let roots = try solver.roots(ofMonic: c)
            re = roots.map(\.re)
            im = roots.map(\.im)
            warm = true
            lapackSolves += 1
        } else {
            trackedSolves += 1
        }
        var largest = 0.0
        for k in 0..<re.count { largest = max(largest, (re[k] * re[k] + im[k] * im[k]).squareRoot()) }
        return roundMapRadius(largestRootMagnitude: largest, workers: scheme.workers)
    }

    /// Aberth–Ehrlich iteration (Gauss–Seidel order) from the stored roots; true if it converged and passed the checks.
    private func track(_ c: [Double]) -> Bool {
        let d = c.count - 1
        var zr = re, zi = im
        var converged = false
        let ok: Bool = c.withUnsafeBufferPointer { cp in
            zr.withUnsafeMutableBufferPointer { xr in
                zi.withUnsafeMutableBufferPointer { xi in
                    for _ in 0..<maxIterations {
                        var worst = 0.0
                        for k in 0..<d {
                            let ar = xr[k], ai = xi[k]
                            // Horner for p and p' at z = ar + i·ai.
                            var pr = cp[d], pi = 0.0, dr = 0.0, di = 0.0
                            for j in stride(from: d - 1, through: 0, by: -1) {
                                let ndr = dr * ar - di * ai + pr, ndi = dr * ai + di * ar + pi
                                dr = ndr; di = ndi
                                let npr = pr * ar - pi * ai + cp[j], npi = pr * ai + pi * ar
                                pr = npr; pi = npi
                            }
                            if pr == 0 && pi == 0 { continue }          // exactly on a root
                            let dd = dr * dr + di * di
                            if dd == 0 { return false }
                            // N = p / p'
                            let nr = (pr * dr + pi * di) / dd, ni = (pi * dr - pr * di) / dd
                            // S = Σ_{j≠k} 1 / (z_k − z_j)
                            var sr = 0.0, si = 0.0
                            for j in 0..<d where j != k {
                                let ur = ar - xr[j], ui = ai - xi[j]
                                let uu = ur * ur + ui * ui
                                if uu == 0 { return false }
                                sr += ur / uu
                                si -= ui / uu
                            }
                            // w = N / (1 − N·S)
                            let qr = 1 - (nr * sr - ni * si), qi = -(nr * si + ni * sr)
                            let qq = qr * qr + qi * qi
                            if qq == 0 { return false }
                            let wr = (nr * qr + ni * qi) / qq, wi = (ni * qr - nr * qi) / qq
                            xr[k] = ar - wr
                            xi[k] = ai - wi
                            let scale = max((ar * ar + ai * ai).squareRoot(), 1e-3)
                            worst = max(worst, (wr * wr + wi * wi).squareRoot() / scale)
                        }
                        if !worst.isFinite { return false }
                        if worst <= tolerance { converged = true; break }
                    }
                    if !converged { return false }
                    // Distinct roots, and Vieta: Σ z_k = −c_{d−1}.
                    var sumR = 0.0, sumI = 0.0, size = 0.0
                    for k in 0..<d {
                        sumR += xr[k]; sumI += xi[k]
                        size += (xr[k] * xr[k] + xi[k] * xi[k]).squareRoot()
                        for j in (k + 1)..<max(d, k + 1) {
                            let dist = abs(xr[k] - xr[j]) + abs(xi[k] - xi[j])
                            if dist <= 1e-8 * max(1e-3, abs(xr[k]) + abs(xi[k])) { return false }
                        }
                    }
                    return abs(sumR + cp[d - 1]) + abs(sumI) <= 1e-10 * (size + 1)
                }
            }
        }
        if ok { re = zr; im = zi }
        return ok
    }
}

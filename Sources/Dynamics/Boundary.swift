// The stability boundary ρ(F) = 1, traced exactly: along each row of a map (fixed ρ or α), every sign change
// of ρ(F) − 1 between neighbouring grid points brackets a crossing, which Brent's method refines in η
// to a relative width of 1e-10.

import Foundation
import Synchronization

public struct BoundaryPoint: Sendable, Equatable {
    /// The row's fixed coupling value (ρ or α).
    public var second: Double
    /// η where ρ(F) = 1.
    public var eta: Double
    /// Which crossing of this row it is, counting from small η (0, 1, …).
    public var crossing: Int
    /// True if ρ(F) rises through 1 as η grows (stable → unstable).
    public var becomesUnstable: Bool
    /// ρ(F) at the returned η.
    public var radius: Double
}

/// Brent's method for a root of f in [a, b] with f(a)·f(b) ≤ 0, to |b − a| ≤ relativeTolerance·|root|.
public func brentRoot(_ a0: Double, _ b0: Double, relativeTolerance: Double = 1e-10, maxIterations: Int = 200,
                      _ f: (Double) throws -> Double) rethrows -> Double {
    try brentRootWithValue(a0, b0, relativeTolerance: relativeTolerance, maxIterations: maxIterations, f).x
}

/// Brent's method, returning the root and f there (f is evaluated there anyway).
public func brentRootWithValue(_ a0: Double, _ b0: Double, relativeTolerance: Double, maxIterations: Int = 200,
                        _ f: (Double) throws -> Double) rethrows -> (x: Double, fx: Double) {
    var a = a0, b = b0
    var fa = try f(a), fb = try f(b)
    if fa == 0 { return (a, fa) }
    if fb == 0 { return (b, fb) }
    precondition(fa * fb < 0, "the bracket does not change sign")
    if abs(fa) < abs(fb) { swap(&a, &b); swap(&fa, &fb) }
    var c = a, fc = fa, d = b - a
    var bisected = true
    for _ in 0..<maxIterations {
        let tol = relativeTolerance * max(abs(b), Double.leastNormalMagnitude) / 2
        if fb == 0 || abs(b - a) <= 2 * tol { return (b, fb) }
        var s: Double
        if fa != fc && fb != fc {
            s = a * fb * fc / ((fa - fb) * (fa - fc)) + b * fa * fc / ((fb - fa) * (fb - fc))
                + c * fa * fb / ((fc - fa) * (fc - fb))
        } else {
            s = b - fb * (b - a) / (fb - fa)
        }
        let lo = min((3 * a + b) / 4, b), hi = max((3 * a + b) / 4, b)
        if !(s > lo && s < hi)
            || (bisected && abs(s - b) >= abs(b - c) / 2)
            || (!bisected && abs(s - b) >= abs(c - d) / 2)
            || (bisected && abs(b - c) < tol)
            || (!bisected && abs(c - d) < tol) {
            s = (a + b) / 2
            bisected = true
        } else {
            bisected = false
        }
        let fs = try f(s)
        d = c
        c = b; fc = fb
        if fa * fs < 0 { b = s; fb = fs } else { a = s; fa = fs }
        if abs(fa) < abs(fb) { swap(&a, &b); swap(&fa, &fb) }
    }
    return (b, fb)
}

extension StabilityMap {
    /// Values of ρ(F) within this distance of 1 count as neither stable nor unstable when looking for crossings
    /// (a row on which the radius is exactly 1, like α = 0 for EASGD, has no crossing).
    public static let marginalBand = 1e-12

    /// Trace every crossing of ρ(F) = 1 along η, row by row, in parallel.
    public func traceBoundary(relativeTolerance: Double = 1e-10, threads: Int? = nil) throws -> [BoundaryPoint] {
        let etas = etaValues, seconds = secondValues, columns = spec.eta.count
        let spec = self.spec, radii = self.radii
        let perRow = Mutex<[Int: [BoundaryPoint]]>([:])
        let dimension = spec.solverDimension
        @Sendable func side(_ r: Double) -> Int { r > 1 + Self.marginalBand ? 1 : (r < 1 - Self.marginalBand ? -1 : 0) }
        try forEachRowInParallel(rows: seconds.count, solverDimension: dimension, threads: threads) { j, solver in
            var points: [BoundaryPoint] = []
            var last: (index: Int, side: Int)? = nil      // the previous point off the marginal band
            for i in 0..<columns {
                let s = side(radii[j * columns + i])
                if s == 0 { continue }
                if let last, last.side != s {
                    let root = try brentRootWithValue(etas[last.index], etas[i], relativeTolerance: relativeTolerance) { eta in
                        try spec.radius(eta: eta, second: seconds[j], solver: solver) - 1
                    }
                    points.append(BoundaryPoint(second: seconds[j], eta: root.x, crossing: points.count,
                                                becomesUnstable: s > 0, radius: root.fx + 1))
                }
                last = (i, s)
            }
            perRow.withLock { $0[j] = points }
        }
        let rows = perRow.withLock { $0 }
        return (0..<seconds.count).flatMap { rows[$0] ?? [] }
    }
}

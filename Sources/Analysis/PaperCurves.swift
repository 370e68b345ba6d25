// The paper's closed-form boundaries, as data (points a figure draws), computed from the formulas alone and
// never from the radii they are drawn over.

import Dynamics
import Elastic

public struct ReferenceCurve: Sendable {
    public var title: String
    public var points: [(x: Double, y: Double)]
}

public enum PaperCurves {
    /// EASGD's round-robin stability condition for odd p, α = (4 − 2ηh)/(4 − ηh) for ηh ≤ 2, over a map's η axis
    /// (nil where the map is not EASGD over (η, α) with τ = 1 in round-robin order).
    public static func easgdCondition(for spec: StabilityMapSpec, samples: Int = 600) -> ReferenceCurve? {
        guard spec.method == .easgd, spec.secondKind == .alpha, spec.tau == 1, spec.schedule == .roundRobin else { return nil }
        let axis = GridAxis(lower: spec.eta.lower, upper: spec.eta.upper, count: samples, logarithmic: spec.eta.logarithmic)
        let points = axis.values.compactMap { eta -> (x: Double, y: Double)? in
            let e = eta * spec.h
            return e <= 2 ? (eta, (4 - 2 * e) / (4 - e)) : nil
        }
        return ReferenceCurve(title: "paper: {/Symbol a} = (4 - 2{/Symbol h}h)/(4 - {/Symbol h}h)", points: points)
    }

    /// Synchronous EASGD's stability boundary β = (4 − 2ηh)/(2(1 + 1/p) − ηh) for ηh ≤ 2, over ηh in (0, extent].
    public static func synchronousBoundary(workers p: Int, extent: Double, samples: Int = 400) -> ReferenceCurve {
        func beta(_ x: Double) -> Double { (4 - 2 * x) / (2 * (1 + 1 / Double(p)) - x) }
        var points = (1...samples).compactMap { k -> (x: Double, y: Double)? in
            let x = extent * Double(k) / Double(samples)
            return x <= 2 ? (x, beta(x)) : nil
        }
        // For large p the curve falls almost vertically to β = 0 at ηh = 2: end it there, not at the last sample.
        if extent >= 2, points.last?.x != 2 { points.append((2, beta(2))) }
        return ReferenceCurve(title: "stability boundary", points: points)
    }
}

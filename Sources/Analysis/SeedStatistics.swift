// Statistics over seeds: the mean of a few runs with its standard error and a 95 % interval from Student's t, and
// the paired difference of two groups of runs that share their seeds. What `easgd runs --group-seeds` reports, so
// that no comparison of methods rests on one seed or on a strict inequality between two noisy numbers.

import Foundation

/// Student's t distribution with `degrees` degrees of freedom.
public enum StudentT {
    /// P(T ≤ t), through the regularised incomplete beta function: for t ≥ 0,
    /// P(T ≤ t) = 1 − I_{ν/(ν+t²)}(ν/2, 1/2) / 2.
    public static func cdf(_ t: Double, degrees: Double) -> Double {
        precondition(degrees > 0)
        let tail = 0.5 * incompleteBeta(degrees / (degrees + t * t), degrees / 2, 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile (0 < p < 1), by bisection on the distribution function to the last bits of a Double.
    public static func quantile(_ p: Double, degrees: Double) -> Double {
        precondition(p > 0 && p < 1 && degrees > 0)
        if p == 0.5 { return 0 }
        if p < 0.5 { return -quantile(1 - p, degrees: degrees) }
        var low = 0.0, high = 1.0
        while cdf(high, degrees: degrees) < p { high *= 2 }
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if mid == low || mid == high { break }
            if cdf(mid, degrees: degrees) < p { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    /// I_x(a, b), the regularised incomplete beta function, by its continued fraction (modified Lentz), using the
    /// symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x))
        if x > (a + 1) / (a + b + 2) { return 1 - incompleteBeta(1 - x, b, a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...10_000 {
            let m = Double(m)
            for numerator in [m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                              -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))] {
                d = 1 + numerator * d
                if abs(d) < tiny { d = tiny }
                c = 1 + numerator / c
                if abs(c) < tiny { c = tiny }
                d = 1 / d
                f *= c * d
            }
            if abs(c * d - 1) < 1e-16 { break }
        }
        return front * f / a
    }
}

/// The mean of n values with the sample standard deviation, the standard error s/√n and the 95 % interval
/// mean ± t(0.975, n − 1)·s/√n (nil for n < 2: one value has no spread to estimate).
public struct SeedEstimate: Sendable, Equatable {
    public var n: Int
    public var mean, min, max: Double
    public var standardDeviation: Double?
    public var standardError: Double?
    public var interval: ClosedRange<Double>?

    /// Over the finite values; nil when there are none.
    public init?(_ values: [Double?]) {
        let v = values.compactMap { $0 }.filter(\.isFinite)
        guard !v.isEmpty else { return nil }
        n = v.count
        mean = v.reduce(0, +) / Double(n)
        min = v.min()!
        max = v.max()!
        if n >= 2 {
            let m = mean
            let s = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n - 1)).squareRoot()
            let se = s / Double(n).squareRoot()
            let t = StudentT.quantile(0.975, degrees: Double(n - 1))
            standardDeviation = s
            standardError = se
            interval = (mean - t * se)...(mean + t * se)
        }
    }
}

/// Group B against group A over the seeds they share: the differences b − a of one quantity, their estimate, and
/// in how many seeds B was lower.
public struct PairedDifference: Sendable {
    public var seeds: [UInt64]
    public var difference: SeedEstimate?
    /// Seeds in which B's value is lower than A's (for an error: B better).
    public var lower: Int

    public init(_ a: [(seed: UInt64, value: Double?)], _ b: [(seed: UInt64, value: Double?)]) {
        var first: [UInt64: Double] = [:]
        for x in a { if let v = x.value, v.isFinite, first[x.seed] == nil { first[x.seed] = v } }
        var pairs: [(UInt64, Double)] = []
        for y in b {
            guard let v = y.value, v.isFinite, let u = first[y.seed], !pairs.contains(where: { $0.0 == y.seed }) else { continue }
            pairs.append((y.seed, v - u))
        }
        pairs.sort { $0.0 < $1.0 }
        seeds = pairs.map(\.0)
        difference = SeedEstimate(pairs.map(\.1))
        lower = pairs.filter { $0.1 < 0 }.count
    }
}

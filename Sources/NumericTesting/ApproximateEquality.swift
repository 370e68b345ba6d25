// The one approximate-equality helper used by every numeric test in the package.
// |a − b| ≤ max(absolute, relative · max(|a|, |b|)); non-finite values are never close to anything.

public func isClose(_ a: Double, _ b: Double, relative: Double = 1e-12, absolute: Double = 0) -> Bool {
    guard a.isFinite, b.isFinite else { return false }
    return abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
}

/// Largest |a_k − b_k| / max(scale, |a_k|, |b_k|) over two equally long sequences (∞ if they differ in length
/// or hold a non-finite value), for reporting how far apart two computations are.
public func maxRelativeDifference(_ a: [Double], _ b: [Double], scale: Double = 0) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        guard x.isFinite, y.isFinite else { return .infinity }
        let denominator = max(scale, abs(x), abs(y))
        if denominator > 0 { worst = max(worst, abs(x - y) / denominator) }
    }
    return worst
}

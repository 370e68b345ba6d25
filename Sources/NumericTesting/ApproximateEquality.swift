// The one approximate-equality helper used by every numeric test in the package.
// |a − b| ≤ max(absolute, relative · max(|a|, |b|)); non-finite values are never close to anything.

public func isClose(_ a: Double, _ b: Double, relative: Double = 1e-12, absolute: Double = 0) -> Bool {
    guard a.isFinite, b.isFinite else { return false }
    return abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
}

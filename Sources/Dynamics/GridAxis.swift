// One axis of a parameter grid: `count` points from `lower` to `upper` inclusive, evenly spaced
// (lower + k·(upper − lower)/(count − 1)) or, for a logarithmic axis, evenly spaced in log10.

import Foundation

public struct GridAxis: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var count: Int
    public var logarithmic: Bool

    public init(lower: Double, upper: Double, count: Int, logarithmic: Bool = false) {
        precondition(count >= 1, "an axis needs at least one point")
        precondition(!logarithmic || lower > 0, "a logarithmic axis needs a positive lower end")
        self.lower = lower
        self.upper = upper
        self.count = count
        self.logarithmic = logarithmic
    }

    public func value(_ k: Int) -> Double {
        if count == 1 { return lower }
        if k == count - 1 { return upper }
        let t = Double(k) / Double(count - 1)
        if logarithmic {
            return pow(10, log10(lower) + t * (log10(upper) - log10(lower)))
        }
        return lower + Double(k) * (upper - lower) / Double(count - 1)
    }

    public var values: [Double] { (0..<count).map(value) }
}

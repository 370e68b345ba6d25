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

/// How many points a map has along η and along its second axis, written `NxM`.
public struct GridPoints: Sendable, Equatable, CustomStringConvertible {
    public var eta: Int
    public var second: Int
    /// The most grid points a map may have: its radii, CSV rows and boundary search must fit in memory.
    public static let maxPoints = 16_777_216

    public init(eta: Int, second: Int) {
        self.eta = eta
        self.second = second
    }

    /// `NxM`, e.g. `200x200`.
    public init?(text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else { return nil }
        self.init(eta: n, second: m)
    }

    public var description: String { "\(eta)x\(second)" }

    /// Nil if the grid can be computed, else why not.
    public var problem: String? {
        guard eta >= 2, second >= 2 else { return "grid \(description): each side needs at least 2 points" }
        let (points, overflow) = eta.multipliedReportingOverflow(by: second)
        guard !overflow, points <= GridPoints.maxPoints else {
            return "grid \(description) is too large: at most \(GridPoints.maxPoints) points (4096x4096) fit the memory budget of a map"
        }
        return nil
    }
}

extension GridAxis {
    /// `count` points over `range`.
    public init(_ range: ClosedRange<Double>, count: Int, logarithmic: Bool = false) {
        self.init(lower: range.lowerBound, upper: range.upperBound, count: count, logarithmic: logarithmic)
    }
}

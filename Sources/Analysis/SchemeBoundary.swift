// `easgd radius --solve AXIS`: the stable intervals of one coordinate of a scheme point (η, α, δ, h or τ) with the
// others fixed — the question "what is the largest stable η here?" in one command. The radius is sampled along the
// axis (logarithmically for η and h, linearly for α and δ, every integer for τ), and each change of side of
// ρ = 1 is refined by Brent's method to 1e-10 relative, as the map's traced boundary is.

import Dynamics
import Elastic
import Foundation
import Records

/// The coordinate `--solve` varies.
public enum SolveAxis: String, CaseIterable, Sendable {
    case eta, alpha, momentum, h, tau

    /// Sampled on a logarithmic grid (η and h span decades).
    var logarithmic: Bool { self == .eta || self == .h }
}

/// One crossing of ρ = 1 along the axis.
public struct AxisCrossing: Sendable, Equatable {
    public var value: Double
    /// Stable below, unstable above (or the reverse).
    public var becomesUnstable: Bool
    public var radius: Double
}

/// A stable stretch of the axis; an end at the searched range's edge is marked as such (the search does not say
/// what lies beyond it).
public struct StableInterval: Sendable, Equatable {
    public var from: Double
    public var to: Double
    public var fromIsRangeEdge: Bool
    public var toIsRangeEdge: Bool
}

public struct AxisSolution: Sendable {
    public var axis: SolveAxis
    public var range: ClosedRange<Double>
    public var crossings: [AxisCrossing]
    public var intervals: [StableInterval]
}

extension SchemePoint {
    /// The default range searched along `axis`: η and h over eight decades around the scale 1/h (1/η), α over
    /// (0, 1], δ over [0, 1), τ over 1…64.
    public func defaultRange(_ axis: SolveAxis) -> ClosedRange<Double> {
        switch axis {
        case .eta: 1e-6 / h...100 / h
        case .h: 1e-6 / max(eta, 1e-300)...100 / max(eta, 1e-300)
        case .alpha: 1e-6...1
        case .momentum: 0...0.9999
        case .tau: 1...64
        }
    }

    /// The point with `axis` set to `value` (α replaces the coupling; with a coupling ρ, α = ηρ moves with η).
    public func with(_ axis: SolveAxis, _ value: Double) -> SchemePoint {
        var p = self
        switch axis {
        case .eta: p.eta = value
        case .alpha: p.coupling = .alpha(value)
        case .momentum: p.momentum = value
        case .h: p.h = value
        case .tau: p.tau = Int(value.rounded())
        }
        return p
    }

    /// The stable intervals of `axis` over `range`, from `points` samples (τ: every integer), each crossing refined
    /// to `relativeTolerance`.
    public func solve(_ axis: SolveAxis, range: ClosedRange<Double>? = nil, points: Int = 400, schedule: Schedule = .roundRobin,
                      relativeTolerance: Double = 1e-10) throws -> AxisSolution {
        let range = range ?? defaultRange(axis)
        func radius(_ v: Double) throws -> Double { try with(axis, v).radius(schedule: schedule).radius }
        func side(_ r: Double) -> Int { r > 1 + StabilityMap.marginalBand ? 1 : (r < 1 - StabilityMap.marginalBand ? -1 : 0) }
        let grid: [Double] = switch axis {
        case .tau: (Int(range.lowerBound.rounded(.up))...Int(range.upperBound.rounded(.down))).map(Double.init)
        case _ where axis.logarithmic:
            (0..<points).map { range.lowerBound * pow(range.upperBound / range.lowerBound, Double($0) / Double(points - 1)) }
        default: (0..<points).map { range.lowerBound + (range.upperBound - range.lowerBound) * Double($0) / Double(points - 1) }
        }
        var crossings: [AxisCrossing] = [], intervals: [StableInterval] = []
        var last: (value: Double, side: Int)? = nil, openedAt: (value: Double, edge: Bool)? = nil
        for v in grid {
            let r = try radius(v), s = side(r)
            if s == 0 { continue }
            if let last, last.side != s {
                let at: (x: Double, fx: Double)
                if axis == .tau {
                    at = (v, r - 1)          // τ is an integer: the first on the new side
                } else {
                    at = try brentRootWithValue(last.value, v, relativeTolerance: relativeTolerance) { try radius($0) - 1 }
                }
                crossings.append(AxisCrossing(value: at.x, becomesUnstable: s > 0, radius: at.fx + 1))
                if s > 0, let opened = openedAt {
                    intervals.append(StableInterval(from: opened.value, to: axis == .tau ? last.value : at.x,
                                                    fromIsRangeEdge: opened.edge, toIsRangeEdge: false))
                    openedAt = nil
                } else if s < 0 {
                    openedAt = (at.x, false)
                }
            } else if last == nil, s < 0 {
                openedAt = (v, v == grid.first)
            }
            last = (v, s)
        }
        if let opened = openedAt, let last {
            intervals.append(StableInterval(from: opened.value, to: last.value, fromIsRangeEdge: opened.edge, toIsRangeEdge: last.value == grid.last))
        }
        return AxisSolution(axis: axis, range: range, crossings: crossings, intervals: intervals)
    }
}

extension AxisSolution {
    /// "stable for η in [a, b]" lines (an end at the range's edge written "≤ a" or "≥ b").
    public func lines(symbol: String) -> [String] {
        guard !intervals.isEmpty else {
            return ["no stable \(symbol) in [\(plain(range.lowerBound)), \(plain(range.upperBound))] (searched)"]
        }
        return intervals.map { i in
            let lo = i.fromIsRangeEdge ? "\(plain(i.from)) (the searched range's edge)" : plain(i.from)
            let hi = i.toIsRangeEdge ? "\(plain(i.to)) (the searched range's edge)" : plain(i.to)
            return "stable for \(symbol) from \(lo) to \(hi)"
        }
    }

    public var json: [(String, JSON)] {
        [("solve", .string(axis.rawValue)), ("range", .array([.number(range.lowerBound), .number(range.upperBound)])),
         ("stable_intervals", .array(intervals.map {
             .object([("from", .number($0.from)), ("to", .number($0.to)),
                      ("from_is_range_edge", .bool($0.fromIsRangeEdge)), ("to_is_range_edge", .bool($0.toIsRangeEdge))])
         })),
         ("crossings", .array(crossings.map {
             .object([("value", .number($0.value)), ("becomes_unstable", .bool($0.becomesUnstable)), ("spectral_radius", .number($0.radius))])
         }))]
    }
}

private func plain(_ v: Double) -> String { String(format: "%.12g", v) }

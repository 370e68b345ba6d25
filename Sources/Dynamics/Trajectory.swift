// Trajectories: the round-robin scheme run round after round by the `Elastic` update code itself
// (not by the matrix), with the growth rate per round measured from the run and overflow detected.

import Elastic
import Foundation

public struct Trajectory: Sendable {
    /// max_k |s_k| after each round; index 0 is the initial state.
    public var maxAbs: [Double]
    /// The first round after which the state was no longer finite (or exceeded `overflowThreshold`), if any.
    public var divergedAtRound: Int?
    /// The first round after which the state was exactly zero, if any.
    public var vanishedAtRound: Int?

    public var roundsRun: Int { maxAbs.count - 1 }

    /// Least-squares slope of ln max|s| against the round, over the second half of the finite, nonzero record:
    /// the measured growth rate per round, to compare with ln ρ(F).
    public var growthRate: Double? {
        let n = maxAbs.count
        guard n >= 4 else { return nil }
        return leastSquaresSlope((n / 2..<n).filter { maxAbs[$0] > 0 && maxAbs[$0].isFinite }.map { (Double($0), log(maxAbs[$0])) })
    }
}

/// The least-squares slope of y against x, or nil with fewer than two points or no spread in x.
public func leastSquaresSlope(_ points: [(x: Double, y: Double)]) -> Double? {
    guard points.count >= 2 else { return nil }
    var sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
    for (x, y) in points { sx += x; sy += y; sxx += x * x; sxy += x * y }
    let m = Double(points.count)
    let denominator = m * sxx - sx * sx
    return denominator > 0 ? (m * sxy - sx * sy) / denominator : nil
}

public enum InitialState: Sendable, Equatable {
    /// Multipliers 0, every worker and the center at `value` (the paper's example uses 1000).
    case constant(Double)
    /// Every coordinate uniform in [−1, 1] from a seeded generator.
    case random(seed: UInt64)
}

extension RoundRobinScheme {
    public func initialState(_ initial: InitialState) -> [Double] {
        switch initial {
        case .constant(let v):
            var s = [Double](repeating: v, count: stateDimension)
            for (k, name) in coordinateNames.enumerated() where name.hasPrefix("lambda") { s[k] = 0 }
            return s
        case .random(let seed):
            var rng = SplitMix64(seed: seed)
            return (0..<stateDimension).map { _ in rng.nextUniform() * 2 - 1 }
        }
    }

    /// Run `rounds` rounds from `state`, recording max|s| after each; stops at the first non-finite state
    /// or one beyond `overflowThreshold`, which it reports instead of recording.
    public func simulate(from state: [Double], rounds: Int, overflowThreshold: Double = 1e300) -> Trajectory {
        var s = state
        var record = [s.reduce(0) { max($0, abs($1)) }]
        record.reserveCapacity(rounds + 1)
        var diverged: Int? = nil, vanished: Int? = nil
        s.withUnsafeMutableBufferPointer { buffer in
            guard rounds > 0 else { return }
            for t in 1...rounds {
                round(buffer)
                var m = 0.0, finite = true
                for v in buffer { if !v.isFinite { finite = false }; m = max(m, abs(v)) }
                if !finite || m > overflowThreshold { diverged = t; return }
                record.append(m)
                if m == 0 && vanished == nil { vanished = t }
            }
        }
        return Trajectory(maxAbs: record, divergedAtRound: diverged, vanishedAtRound: vanished)
    }
}

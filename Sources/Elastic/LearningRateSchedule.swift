// Learning-rate schedules: the rate η_t a step takes, from the base η, the step count t (a sequential run's steps,
// or a worker's own clock), the steps an epoch takes and the steps of the budget. Written as `--lr-schedule`:
//   constant                 η_t = η
//   step:AT1,AT2,...:FACTOR  η_t = η · FACTOR^k, k the milestones (in epochs) reached: t ≥ AT_i · steps per epoch
//                            (PyTorch's MultiStepLR)
//   cosine[:FINAL]           η_t = FINAL + (η − FINAL)(1 + cos(π t / T))/2 over the budget's T steps, FINAL
//                            (default 0) from t = T on (PyTorch's CosineAnnealingLR, one half period)
//   plateau:FACTOR:PATIENCE  η_t = η · scale, the scale multiplied by FACTOR when the evaluations' training loss
//                            has not improved (by 1e-4 relative) for more than PATIENCE evaluations in a row
//                            (PyTorch's ReduceLROnPlateau, mode min, threshold 1e-4 rel, cooldown 0); with a list
//                            F1,F2,... the plateaus take the factors in order, once each, then the rate stays
//                            (the paper's ImageNet rule, "decreased twice, by a factor of 5 and then 2": 0.2,0.5)
// and `--warmup W`: for t < W the rate is multiplied by (t + 1)/W, a linear ramp to the schedule's rate.

import Foundation

public struct LearningRateSchedule: Equatable, Sendable, Codable, CustomStringConvertible {
    public enum Shape: Equatable, Sendable {
        case constant
        /// Milestones in epochs (increasing), and the factor each one multiplies the rate by.
        case step(at: [Double], factor: Double)
        /// The rate at the end of the budget.
        case cosine(final: Double)
        /// The factors (one: at every plateau; several: in order, once each) and the evaluations without
        /// improvement a cut waits for.
        case plateau(factors: [Double], patience: Int)
    }
    public var shape: Shape
    /// Steps of the linear warm-up (0: none).
    public var warmup: Int

    public init(_ shape: Shape = .constant, warmup: Int = 0) {
        self.shape = shape
        self.warmup = warmup
    }

    /// The schedule a run without one has: the constant base rate.
    public static let constant = LearningRateSchedule()
    public var isConstant: Bool { shape == .constant && warmup == 0 }

    /// Parses the `--lr-schedule` text, saying what is wrong with it.
    public init(parsing text: String, warmup: Int = 0) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func number(_ s: String, _ what: String) throws -> Double {
            guard let v = Double(s), v.isFinite else { throw ScheduleError("--lr-schedule \(text): \(what) '\(s)' is not a number") }
            return v
        }
        switch parts[0] {
        case "constant" where parts.count == 1:
            shape = .constant
        case "step" where parts.count == 3:
            let at = try parts[1].split(separator: ",", omittingEmptySubsequences: false).map { try number(String($0), "the epoch") }
            let factor = try number(parts[2], "the factor")
            guard !at.isEmpty, at.allSatisfy({ $0 > 0 }), zip(at, at.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw ScheduleError("--lr-schedule \(text): the epochs must be positive and increasing")
            }
            guard factor > 0, factor <= 1 else { throw ScheduleError("--lr-schedule \(text): the factor must be in (0, 1]") }
            shape = .step(at: at, factor: factor)
        case "cosine" where parts.count <= 2:
            let final = try parts.count == 2 ? number(parts[1], "the final rate") : 0
            guard final >= 0 else { throw ScheduleError("--lr-schedule \(text): the final rate must be at least 0") }
            shape = .cosine(final: final)
        case "plateau" where parts.count == 3:
            let factors = try parts[1].split(separator: ",", omittingEmptySubsequences: false).map { try number(String($0), "the factor") }
            guard factors.allSatisfy({ $0 > 0 && $0 < 1 }) else { throw ScheduleError("--lr-schedule \(text): each factor must be in (0, 1)") }
            guard let patience = Int(parts[2]), patience >= 0 else {
                throw ScheduleError("--lr-schedule \(text): the patience '\(parts[2])' is not a whole number of evaluations")
            }
            shape = .plateau(factors: factors, patience: patience)
        default:
            throw ScheduleError("--lr-schedule \(text): not one of constant, step:AT1,AT2,...:FACTOR, cosine[:FINAL], plateau:FACTOR[,FACTOR2,...]:PATIENCE")
        }
        guard warmup >= 0 else { throw ScheduleError("--warmup must be at least 0 (got \(warmup))") }
        self.warmup = warmup
    }

    /// The shape as `--lr-schedule` writes it.
    public var description: String {
        func n(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }
        return switch shape {
        case .constant: "constant"
        case .step(let at, let factor): "step:\(at.map(n).joined(separator: ",")):\(n(factor))"
        case .cosine(let final): final == 0 ? "cosine" : "cosine:\(n(final))"
        case .plateau(let factors, let patience): "plateau:\(factors.map(n).joined(separator: ",")):\(patience)"
        }
    }

    /// The rate of the step taken at count `t` (steps done before it), for base rate `base`, `stepsPerEpoch` steps
    /// an epoch and a budget of `totalSteps` (cosine needs it), times the plateau's `scale`.
    public func rate(base: Double, step t: Int, stepsPerEpoch: Double, totalSteps: Int?, scale: Double = 1) -> Double {
        var eta = base
        switch shape {
        case .constant: break
        case .step(let at, let factor):
            let reached = at.filter { Double(t) >= $0 * stepsPerEpoch }.count
            eta = base * pow(factor, Double(reached))
        case .cosine(let final):
            let total = Double(max(totalSteps ?? 1, 1))
            eta = Double(t) >= total ? final : final + (base - final) * (1 + cos(Double.pi * Double(t) / total)) / 2
        case .plateau:
            eta = base * scale
        }
        if t < warmup { eta *= Double(t + 1) / Double(warmup) }
        return eta
    }

    /// Whether the schedule's state depends on the evaluations (plateau), not on the step count alone.
    public var followsEvaluations: Bool { if case .plateau = shape { true } else { false } }

    /// Whether the schedule needs the budget in steps (cosine).
    public var needsStepBudget: Bool { if case .cosine = shape { true } else { false } }

    // Coded as {"shape": "step:30,60:0.1", "warmup": 100}, readable in config.json.
    enum CodingKeys: String, CodingKey { case shape, warmup }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .shape)
        do { try self.init(parsing: text, warmup: try c.decodeIfPresent(Int.self, forKey: .warmup) ?? 0) } catch {
            throw DecodingError.dataCorruptedError(forKey: .shape, in: c, debugDescription: "\(error)")
        }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(description, forKey: .shape)
        try c.encode(warmup, forKey: .warmup)
    }
}

/// The plateau rule's state: the best training loss seen, the evaluations since it improved, and the scale. A
/// function of the evaluations' losses alone, so a resumed run rebuilds it from the records it keeps.
public struct PlateauState: Equatable, Sendable {
    public let factors: [Double]
    public let patience: Int
    /// The plateaus met so far (a list of factors cuts at the first ones only).
    public private(set) var cuts = 0
    public private(set) var best = Double.infinity
    public private(set) var bad = 0
    public private(set) var scale = 1.0
    /// PyTorch's default: an improvement is a loss below best · (1 − 1e-4).
    public static let threshold = 1e-4

    public init(factors: [Double], patience: Int) {
        self.factors = factors
        self.patience = patience
    }

    public init(factor: Double, patience: Int) { self.init(factors: [factor], patience: patience) }

    /// One evaluation's training loss (a non-finite one is no improvement).
    public mutating func observe(_ loss: Double) {
        if loss.isFinite, loss < best * (1 - PlateauState.threshold) || best == .infinity {
            best = loss
            bad = 0
        } else {
            bad += 1
        }
        if bad > patience {
            // One factor: every plateau; a list: each once, in order.
            if factors.count == 1 { scale *= factors[0] } else if cuts < factors.count { scale *= factors[cuts] }
            cuts += 1
            bad = 0
        }
    }
}

public struct ScheduleError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A schedule bound to a run: its base rate, the steps an epoch takes (a worker's own) and the steps of the budget
/// (a worker's own; nil when the budget is in minutes).
public struct LearningRate: Equatable, Sendable {
    public var base: Double
    public var schedule: LearningRateSchedule
    public var stepsPerEpoch: Double
    public var totalSteps: Int?

    public init(base: Double, schedule: LearningRateSchedule = .constant, stepsPerEpoch: Double = 1, totalSteps: Int? = nil) {
        self.base = base
        self.schedule = schedule
        self.stepsPerEpoch = stepsPerEpoch
        self.totalSteps = totalSteps
    }

    /// The rate of the step taken at count `t`, with the plateau's `scale`.
    @inline(__always)
    public func at(_ t: Int, scale: Double = 1) -> Double {
        schedule.isConstant ? base : schedule.rate(base: base, step: t, stepsPerEpoch: stepsPerEpoch, totalSteps: totalSteps, scale: scale)
    }
}

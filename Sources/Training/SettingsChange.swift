// What a resume may change of a run's settings (p and α, S, the learning rate), as config.json keeps it.

import Elastic
import Records
import Foundation

/// A change of a run's settings made by a resume, as config.json keeps it (`changes`, in order): p (with its α)
/// or S of a parallel run (an elastic restart), or the learning rate or its schedule of any run.
public struct SettingsChange: Codable, Equatable, Sendable {
    /// When (ISO 8601, UTC), and the steps done (worker steps in total for p workers) when it took effect.
    public var date: String
    public var atStep: Int
    public var workers: [Int]?         // before, after (nil: p unchanged)
    public var alpha: [Double]?        // before, after (methods with a coupling)
    public var beta: Double?           // β = pα kept across the change (nil: α was given and stays)
    public var servers: [Int]?         // before, after (MPI)
    /// The base learning rate and the schedule (as `--lr-schedule` and `--warmup` write it), before and after.
    public var learningRate: [Double]?
    public var lrSchedule: [String]?

    // config.json's keys (snake_case; before 2026-12-06 camelCase, with learningRate, lrSchedule and atStep).
    enum CodingKeys: String, CodingKey {
        case date, atStep = "atTotalSteps", workers, alpha, beta, servers, learningRate = "eta", lrSchedule = "etaSchedule"
    }

    public init(date: String = ISO8601DateFormatter().string(from: Date()), atStep: Int, workers: [Int]? = nil, alpha: [Double]? = nil,
                beta: Double? = nil, servers: [Int]? = nil, learningRate: [Double]? = nil, lrSchedule: [String]? = nil) {
        self.date = date
        self.atStep = atStep
        self.workers = workers
        self.alpha = alpha
        self.beta = beta
        self.servers = servers
        self.learningRate = learningRate
        self.lrSchedule = lrSchedule
    }
}

/// What a resume may change of the learning rate: the base rate and the schedule (with its warm-up). The new ones
/// apply from the resume on, at the run's step count (a schedule is a function of it, so a warm-up does not
/// repeat); the change is kept in config.json, dated, and said on standard error.
public struct RateChange: Equatable, Sendable {
    public var learningRate: Double?
    public var schedule: LearningRateSchedule?

    public init(learningRate: Double? = nil, schedule: LearningRateSchedule? = nil) {
        self.learningRate = learningRate
        self.schedule = schedule
    }

    /// Sets the new rate and schedule; the change (nil when nothing differs), not yet dated at a step.
    public func apply(rate: inout Double, schedule saved: inout LearningRateSchedule?) -> (learningRate: [Double]?, lrSchedule: [String]?)? {
        let before = (rate, saved ?? .constant)
        if let learningRate { rate = learningRate }
        if let schedule { saved = schedule.isConstant && saved == nil ? nil : schedule }
        let after = (rate, saved ?? .constant)
        guard before.0 != after.0 || before.1 != after.1 else { return nil }
        return (before.0 != after.0 ? [before.0, after.0] : nil, before.1 != after.1 ? [before.1.summary, after.1.summary] : nil)
    }

    /// The line a resume prints for a change at `step`.
    public static func announce(_ change: SettingsChange, config: String) {
        var parts: [String] = []
        if let r = change.learningRate { parts.append("η = \(r[0]) → \(r[1])") }
        if let s = change.lrSchedule { parts.append("schedule \(s[0]) → \(s[1])") }
        FileHandle.standardError.write(Data("the learning rate from step \(change.atStep) on: \(parts.joined(separator: ", ")); recorded in \(config)\n".utf8))
    }
}

extension LearningRateSchedule {
    /// The schedule with its warm-up, as the command line gives them ("step:30,60:0.1 --warmup 100").
    public var summary: String { warmup > 0 ? "\(description) --warmup \(warmup)" : description }
}

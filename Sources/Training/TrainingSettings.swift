// A sequential run's settings (config.json's `settings`) and its budget.

import Elastic
import Records
import Foundation

/// When a run stops: whichever budget is reached first. Each is a total over the run, across resumptions.
public struct Budget: Codable, Equatable, Sendable {
    public var epochs: Double?
    public var minutes: Double?
    public var steps: Int?
    public init(epochs: Double? = nil, minutes: Double? = nil, steps: Int? = nil) {
        self.epochs = epochs
        self.minutes = minutes
        self.steps = steps
    }
    public var isEmpty: Bool { epochs == nil && minutes == nil && steps == nil }
}

public struct TrainingSettings: Codable, Equatable, Sendable {
    /// The net as given ("cifar", "small" or a notation string) and its notation.
    public var net: String
    public var netSpec: String
    /// "fashion-mnist" or a directory.
    public var data: String
    public var optimizer: OptimizerSettings
    public var batch: Int
    public var seed: UInt64
    public var budget: Budget
    /// Evaluate every this many steps (nil: four times per epoch).
    public var evalEvery: Int?
    /// Checkpoint every this many minutes of wall-clock time (and always at the end).
    public var checkpointEveryMinutes: Double
    /// OpenBLAS threads.
    public var threads: Int
    /// Measure the sharpness (h_max of the training loss) at every this many steps (nil: never).
    public var sharpnessEvery: Int?
    /// `--train-subset N`: train on N images of the training set (seeded by `seed`); `--full-batch`: every step
    /// on all of them (no shuffling, crops, flips or dropout; the batch is N). Nil: the whole set, minibatches.
    public var trainSubset: Int?
    public var fullBatch: Bool?
    /// Each convolution's path, fixed when the run starts (its defaults then) and kept on resume, so that a resumed
    /// run computes as it started; nil in configs written before runs recorded them (they ran on oneDNN).
    public var convolutions: [ConvolutionPath]?
    /// Every change of the learning rate or its schedule made by a resume, dated, in order (nil: none).
    public var changes: [SettingsChange]?

    public init(net: String, netSpec: String, data: String, optimizer: OptimizerSettings, batch: Int, seed: UInt64,
                budget: Budget, evalEvery: Int? = nil, checkpointEveryMinutes: Double = 10, threads: Int = 1,
                sharpnessEvery: Int? = nil, trainSubset: Int? = nil, fullBatch: Bool? = nil) {
        self.net = net
        self.netSpec = netSpec
        self.data = data
        self.optimizer = optimizer
        self.batch = batch
        self.seed = seed
        self.budget = budget
        self.evalEvery = evalEvery
        self.checkpointEveryMinutes = checkpointEveryMinutes
        self.threads = threads
        self.sharpnessEvery = sharpnessEvery
        self.trainSubset = trainSubset
        self.fullBatch = fullBatch
    }
}

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

    public var isEmpty: Bool { learningRate == nil && schedule == nil }

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

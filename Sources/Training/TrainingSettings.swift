// A sequential run's settings (config.json's `settings`) and its budget.

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

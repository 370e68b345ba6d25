// Every default of a training run, stated once. The settings types, the CLI's help and the request that turns
// a command line into settings all read them from here.

public enum TrainingDefaults {
    public static let data = "fashion-mnist"
    public static let batch = 128
    public static let seed: UInt64 = 1
    /// Nesterov momentum δ (MSGD, EAMSGD, MDOWNPOUR).
    public static let momentum = 0.99
    /// The constant rate of MVASGD's and MVADOWNPOUR's moving average.
    public static let movingRate = 0.001
    /// λ of the objective's λ/2‖x‖² over every parameter of a network.
    public static let weightDecay = 1e-4
    public static let checkpointEveryMinutes = 10.0
    /// Sequential runs evaluate this many times per epoch.
    public static let evaluationsPerEpoch = 4
    /// Parallel runs evaluate this many times over the run (plus the starting point).
    public static let evaluationsPerParallelRun = 8
    /// A parallel run's evaluation cadence: `evaluationsPerParallelRun` over p workers' `steps` each, in total steps.
    public static func parallelEvaluations(workers p: Int, steps: Int) -> Int { max(1, p * steps / evaluationsPerParallelRun) }
    /// The training images whose loss every evaluation records (`train_loss`).
    public static let trainLossImages = 1000
    /// The fewest test images a run on a training subset evaluates.
    public static let minimumTestImages = 1000
    /// The test images a new run evaluates when --test-subset is not given: all of them, unless it trains on a
    /// subset of N images: then the first max(N, 1,000), or all when there are fewer.
    public static func testImages(trainSubset: Int?, available: Int) -> Int {
        trainSubset.map { min(available, max($0, minimumTestImages)) } ?? available
    }
    /// The fewest steps (in total over the workers) between two default evaluations of E test images at batch B:
    /// ⌈(E + 1,000)/B⌉, so that evaluating costs at most about a third of the training between evaluations.
    public static func evaluationSpacing(testImages: Int, batch: Int) -> Int {
        (testImages + trainLossImages + batch - 1) / max(1, batch)
    }
    /// Parallel runs: p, τ and β = pα (α = β/p, the paper's β = 0.9).
    public static let workers = 4
    public static let tau = 1
    public static let beta = 0.9

    /// The net a data set gets when none is named: the small net for Fashion-MNIST, the paper's CIFAR net otherwise.
    public static func net(for data: String) -> String { data.lowercased() == "fashion-mnist" ? "small" : "cifar" }
}

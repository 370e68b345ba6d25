// easgd train: a CNN on one worker (SGD, MSGD, ASGD, MVASGD) or, through TrainParallel.swift, on p workers; resumable.

import ArgumentParser
import Engine
import Foundation
import Training

extension SequentialMethod: ExpressibleByArgument {}
extension ParallelMethod: ExpressibleByArgument {}
extension Backend: ExpressibleByArgument {}
extension SimulatedSchedule: ExpressibleByArgument {}
/// `N` (every N steps; for parallel runs, worker steps in total) or `Ss` (every S seconds of run time, virtual on
/// the simulated backend; parallel runs only).
extension EvaluationInterval: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
}

/// Every method `easgd train` knows: the sequential ones (p = 1) and the parallel ones.
enum TrainMethod: ExpressibleByArgument, Equatable {
    case sequential(SequentialMethod)
    case parallel(ParallelMethod)

    init?(argument: String) {
        if let s = SequentialMethod(rawValue: argument) { self = .sequential(s); return }
        if let p = ParallelMethod(rawValue: argument), p != .admm { self = .parallel(p); return }
        return nil
    }
    static var allValueStrings: [String] {
        SequentialMethod.allCases.map(\.rawValue) + ParallelMethod.allCases.filter { $0 != .admm }.map(\.rawValue)
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a CNN: on one worker (sgd, msgd, asgd, mvasgd) or on p workers and a master (easgd, eamsgd, downpour, ...).",
        discussion: """
            Methods: sgd; msgd (Nesterov momentum δ); asgd (the running mean of the iterates, rate 1/(t+1)); \
            mvasgd (a moving average with constant rate). ASGD and MVASGD are evaluated at their average. \
            The objective is the mean cross-entropy plus (weight decay)/2·‖x‖² over all parameters.

            Data: 'fashion-mnist' (the Debian package dataset-fashion-mnist, the default) or a directory with \
            CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin, plain or .gz) or IDX files \
            (train-images-idx3-ubyte, ..., plain or .gz). Pixels are scaled to [0, 1] and the per-channel training \
            mean is subtracted; CIFAR's 32×32 images give random 28×28 crops with horizontal flips for training and \
            the centre crop for testing. The default net is 'small' for Fashion-MNIST and 'cifar' otherwise.

            RUN_DIR receives config.json (every setting, the seed, versions), metrics.jsonl and metrics.csv (one \
            record per evaluation: step, samples, epoch, training seconds, wall seconds, train loss, test loss, test \
            error) and checkpoint.bin (atomic, checksummed; every --checkpoint-every minutes, at the end, and on \
            SIGINT/SIGTERM). A run stops at the first budget reached. Examples:
              easgd train --method msgd --lr 0.02 --momentum 0.9 --batch 64 --epochs 5 --out runs/fashion
              easgd train --method msgd --data ../shared/data/cifar10-jpeg --lr 0.002 --epochs 10 --out runs/cifar
              easgd train --resume runs/cifar --epochs 20
            Parallel methods (easgd, eamsgd, downpour, mdownpour, adownpour, mvadownpour, sync-easgd) run p workers \
            and a master: --workers P, --tau, --alpha or --beta, --backend threads (one thread per worker; the \
            default), simulated (one thread, a virtual clock of p devices; --compute-seconds, --communication-seconds, \
            --schedule), or mpi (under mpirun -np P+1), with the budget as --steps per worker:
              easgd train --method easgd --workers 4 --tau 4 --lr 0.05 --steps 300 --eval-every 30s --out runs/easgd-p4
              easgd train --method easgd --workers 16 --tau 10 --lr 0.05 --steps 300 --backend simulated --out runs/p16
              mpirun --oversubscribe -np 5 easgd train --backend mpi --method eamsgd --tau 10 --lr 0.002 --steps 300 --out runs/mpi
              mpirun --oversubscribe -np 5 easgd train --resume runs/mpi --steps 600
            A parallel run checkpoints the whole system (every worker and the master) on the same schedule. Under \
            mpirun, send SIGTERM to rank 0 (its pid is printed) to checkpoint and stop every rank.
            Exit status: 0 done, 1 error or divergence (the last good checkpoint is kept), 130/143 stopped by \
            SIGINT/SIGTERM after writing a checkpoint.
            """
    )

    @Option(help: "sgd, msgd, asgd, mvasgd (one worker) or easgd, eamsgd, downpour, mdownpour, adownpour, mvadownpour, sync-easgd.")
    var method: TrainMethod?
    @OptionGroup var parallel: ParallelOptions
    @Option(help: "cifar, small, imagenet or a notation string (see `easgd net describe`).") var net: String?
    @Option(help: "fashion-mnist or a data directory.") var data: String?
    @Option(name: .customLong("lr"), help: "Learning rate η.") var learningRate: Double?
    @Option(help: "Nesterov momentum δ for msgd (default 0.99).") var momentum: Double?
    @Option(help: "Moving rate of mvasgd (default 0.001).") var movingRate: Double?
    @Option(help: "Weight decay λ (default 1e-4).") var weightDecay: Double?
    @Option(help: "Minibatch size (default 128).") var batch: Int?
    @Option(help: "Stop after this many epochs.") var epochs: Double?
    @Option(help: "Stop after this many minutes of training.") var minutes: Double?
    @Option(help: "Stop after this many steps.") var steps: Int?
    @Option(help: "Seed of the initialisation, data order, crops and dropout (default 1).") var seed: UInt64?
    @Option(help: ArgumentHelp("Evaluate every N steps (default: four times per epoch), or every S seconds ('30s', parallel runs).",
                               discussion: "Parallel runs count worker steps in total; seconds are virtual on the simulated backend.",
                               valueName: "N|Ss")) var evalEvery: EvaluationInterval?
    @Option(help: "Checkpoint every M minutes (default 10).") var checkpointEvery: Double?
    @Option(help: "Threads for the matrix products and element-wise loops (default: all cores).") var threads: Int?
    @Option(help: "The run directory to create.") var out: String?
    @Option(help: "Continue the run in RUN_DIR from its checkpoint (settings from its config.json).") var resume: String?
    @Flag(help: "No progress bar or per-evaluation lines.") var quiet = false

    func validate() throws {
        if let learningRate { try checkPositive("--lr", learningRate) }
        if let momentum { guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1) (got \(momentum))") } }
        if let movingRate { guard movingRate > 0, movingRate <= 1 else { throw ValidationError("--moving-rate must be in (0, 1] (got \(movingRate))") } }
        if let weightDecay { try checkNonNegative("--weight-decay", weightDecay) }
        if let batch { guard batch >= 1, batch <= 4096 else { throw ValidationError("--batch must be between 1 and 4096 (got \(batch))") } }
        if let epochs { try checkPositive("--epochs", epochs) }
        if let minutes { try checkPositive("--minutes", minutes) }
        if let steps { guard steps >= 1 else { throw ValidationError("--steps must be positive (got \(steps))") } }
        if let checkpointEvery { try checkPositive("--checkpoint-every", checkpointEvery) }
        if let threads { guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") } }
        if let resume {
            let fixed: [(String, Bool)] = [("--method", method != nil), ("--net", net != nil), ("--data", data != nil),
                                           ("--lr", learningRate != nil), ("--momentum", momentum != nil),
                                           ("--moving-rate", movingRate != nil), ("--weight-decay", weightDecay != nil),
                                           ("--batch", batch != nil), ("--seed", seed != nil), ("--out", out != nil),
                                           ("--eval-every", evalEvery != nil), ("--checkpoint-every", checkpointEvery != nil)]
            if parallel.given {
                throw ValidationError("the parallel settings cannot change on --resume (only --steps may be given)")
            }
            if let given = fixed.first(where: \.1) {
                throw ValidationError("\(given.0) cannot be combined with --resume: the run's settings come from \(resume)/config.json (only --epochs, --minutes, --steps, --threads may be given)")
            }
            // Under mpirun only rank 0 reads the run directory (it may not exist on the workers' hosts).
            guard mpiWorkerRank || FileManager.default.fileExists(atPath: RunFiles.checkpoint(resume)) else {
                throw ValidationError("\(resume) holds no checkpoint.bin to resume from")
            }
        } else {
            guard let out else { throw ValidationError("give --out RUN_DIR (or --resume RUN_DIR)") }
            guard let method else { throw ValidationError("give --method (sgd, msgd, asgd, mvasgd, easgd, eamsgd, downpour, ...)") }
            if case .parallel(let parallelMethod) = method {
                try parallel.validate(method: parallelMethod, steps: steps, epochs: epochs, minutes: minutes)
            } else if parallel.given {
                throw ValidationError("--workers, --tau, --alpha, --beta, --backend, --schedule and the virtual costs apply to the parallel methods")
            } else if evalEvery?.seconds != nil {
                throw ValidationError("--eval-every in seconds applies to the parallel methods; give a step count for \(method)")
            }
            guard learningRate != nil else { throw ValidationError("give the learning rate --lr") }
            guard epochs != nil || minutes != nil || steps != nil else {
                throw ValidationError("give a budget: --epochs, --minutes or --steps")
            }
            // Under mpirun only rank 0 writes the run directory; the other ranks must not race it.
            if !(parallel.backend == .mpi && mpiWorkerRank) && FileManager.default.fileExists(atPath: RunFiles.config(out)) {
                throw ValidationError("\(out) already holds a run; resume it with --resume \(out) or choose another --out")
            }
            try checkDirectory(splitPath(out).directory, for: "--out")
        }
    }

    func run() throws {
        StopSignal.install()
        defer { StopSignal.uninstall() }
        let budget = Budget(epochs: epochs, minutes: minutes, steps: steps)
        let run: TrainingRun
        if let resume, underMPI {
            guard epochs == nil, minutes == nil else { throw ValidationError("a parallel run resumes with --steps (per worker) only") }
            try runMPI(resume: resume)
            return
        }
        if let resume, try ParallelTrainingRun.readConfig(resume) != nil {
            guard epochs == nil, minutes == nil else { throw ValidationError("a parallel run resumes with --steps (per worker) only") }
            let run = try ParallelTrainingRun.resume(directory: resume, steps: steps)
            printError("resuming \(resume) (\(run.settings.engine.method.rawValue), p = \(run.settings.engine.workers), \(run.settings.backend.rawValue))")
            try finishParallel(run)
            return
        }
        if let resume {
            // The saved thread count unless told otherwise: OpenBLAS's sums depend on it, and so do the bits.
            var saved = try RunFiles.readSettings(resume)
            if let threads { saved.threads = threads }
            if !budget.isEmpty { saved.budget = budget }
            ComputeThreads.set(saved.threads)
            run = try TrainingRun.resume(directory: resume, settings: saved)
            printError("resuming \(resume) at step \(run.step) (epoch \(String(format: "%.2f", run.epochs)))")
        } else {
            let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
            ComputeThreads.set(threadCount)
            let dataArgument = data ?? "fashion-mnist"
            let netName = net ?? (dataArgument.lowercased() == "fashion-mnist" ? "small" : "cifar")
            let spec = try NetSpec(parsing: netName)
            guard case .sequential(let sequentialMethod) = method! else {
                guard case .parallel(let parallelMethod) = method! else { return }
                try runParallel(parallelMethod, netName: netName, spec: spec, dataArgument: dataArgument)
                return
            }
            let settings = TrainingSettings(
                net: netName, netSpec: spec.text, data: dataArgument,
                optimizer: OptimizerSettings(method: sequentialMethod, learningRate: learningRate!, momentum: momentum ?? 0.99,
                                             movingRate: movingRate ?? 0.001, weightDecay: weightDecay ?? 1e-4),
                batch: batch ?? 128, seed: seed ?? 1, budget: budget, evalEvery: evalEvery?.steps,
                checkpointEveryMinutes: checkpointEvery ?? 10, threads: threadCount)
            run = try TrainingRun(settings: settings, directory: out!)     // creates RUN_DIR only when it starts
            printError("training \(settings.optimizer.method.rawValue) on \(run.data.train.name) (\(run.data.train.count) images), net \(netName): \(grouped(run.replica.parameterCount)) parameters, \(run.stepsPerEpoch) steps per epoch")
        }

        let bar = ProgressBar(enabled: !quiet)
        let outcome = try run.run(progress: { bar.update($0) }, log: { record in
            bar.clear()
            if !quiet { print(describe(record)); fflush(nil) }
        })
        bar.clear()
        let directory = run.directory
        switch outcome {
        case .completed:
            if let last = run.records.last {
                printError(String(format: "done: step %d, epoch %.2f, test error %.2f%%, %.1f s of training (%.0f img/s); run in %@",
                                  last.step, last.epoch, last.testError * 100, last.seconds,
                                  Double(last.samples) / max(last.seconds, 1e-9), directory))
            }
        case .interrupted(let sig):
            printError("stopped by signal \(sig) at step \(run.step); checkpoint written; continue with: easgd train --resume \(directory)")
            throw ExitCode(128 + sig)
        case let .diverged(step, reason, lastCheckpointStep):
            throw ValidationError("training diverged at step \(step): \(reason); the last good checkpoint (step \(lastCheckpointStep)) is kept in \(RunFiles.checkpoint(directory))")
        }
    }

    /// Started by Open MPI's mpirun (which sets OMPI_COMM_WORLD_RANK), and not as its rank 0.
    private var underMPI: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] != nil }
    private var mpiWorkerRank: Bool { underMPI && ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] != "0" }

    private func describe(_ r: MetricRecord) -> String {
        let train = r.trainLoss.map { String(format: "%.4f", $0) } ?? "-"
        return String(format: "step %7d  epoch %6.2f  %8.1f s  train loss %@  test loss %.4f  test error %6.2f%%",
                      r.step, r.epoch, r.seconds, train, r.testLoss, r.testError * 100)
    }
}

/// A one-line progress bar on standard error, drawn only on a terminal, at most a few times a second.
final class ProgressBar {
    private let enabled: Bool
    private var lastDraw = 0.0
    private var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled && isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["CI"] == nil
    }

    func update(_ p: TrainingProgress) {
        guard enabled else { return }
        let now = Date().timeIntervalSince1970
        guard now - lastDraw >= 0.25 else { return }
        lastDraw = now
        var fraction: Double? = nil
        if let target = p.targetSteps { fraction = Double(p.step) / Double(max(target, 1)) }
        if let minutes = p.minutesTarget { fraction = max(fraction ?? 0, p.seconds / (minutes * 60)) }
        let width = 28
        let filled = Int((min(fraction ?? 0, 1) * Double(width)).rounded(.down))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let loss = p.recentLoss.isFinite ? String(format: "%.4f", p.recentLoss) : "-"
        let line = String(format: "\r[%@] %5.1f%%  step %d  epoch %.2f  loss %@  %.0f img/s ",
                          bar, (fraction ?? 0) * 100, p.step, p.epoch, loss, p.imagesPerSecond)
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func clear() {
        guard drawn else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 100) + "\r").utf8))
        drawn = false
    }
}

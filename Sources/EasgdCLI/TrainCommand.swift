// easgd train: a CNN on one worker (sgd, msgd, asgd, mvasgd) or on p workers and a master (easgd, eamsgd, downpour,
// ...); resumable. The options parse into `TrainRequest`, which checks how they combine and fills in the defaults;
// a parallel run goes to its backend's driver in one call.

import Analysis
import Records
import ArgumentParser
import Elastic
import Engine
import EngineMPI
import Foundation
import Training

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
            record per evaluation: step, samples, epoch, training seconds, wall seconds, train loss (the model on a \
            fixed training subset), minibatch loss (the mean of recent minibatch losses), test loss, test error) and checkpoint.bin (atomic, checksummed; every --checkpoint-every minutes, at the end, and on \
            SIGINT/SIGTERM/SIGHUP). A run stops at the first budget reached. Examples:
              easgd train --method msgd --lr 0.02 --momentum 0.9 --batch 64 --epochs 5 \\
                --out runs/fashion
              easgd train --method msgd --data ../shared/data/cifar10-jpeg --lr 0.002 \\
                --epochs 10 --out runs/cifar
              easgd train --resume runs/cifar --epochs 20
            Parallel methods (\(Algorithm.names { $0.isParallel && $0.trainsNetworks })) run p workers \
            and a master: --workers P, --tau, --alpha or --beta (DiLoCo: --outer, --outer-lr, --outer-momentum), \
            --backend threads (one thread per worker; the default; sync-easgd and diloco step them in lockstep), \
            simulated (one thread, a virtual clock of p devices; --compute-seconds, --communication-seconds, \
            --schedule), or mpi (under mpirun -np P+1; sync-easgd and diloco in lockstep through rank 0), with the budget as --steps per worker:
              easgd train --method easgd --workers 4 --tau 4 --lr 0.05 --steps 300 \\
                --eval-every 30s --out runs/easgd-p4
              easgd train --method easgd --workers 16 --tau 10 --lr 0.05 --steps 300 \\
                --backend simulated --out runs/p16
              mpirun --oversubscribe -np 5 easgd train --backend mpi --method eamsgd --tau 10 --lr 0.002 --steps 300 --out runs/mpi
              mpirun --oversubscribe -np 5 easgd train --resume runs/mpi --steps 600
              mpirun --oversubscribe -np 6 easgd train --servers 2 --resume runs/mpi --steps 900   (2 shards, 4 workers)
            A parallel run checkpoints the whole system (every worker and the master) on the same schedule. Under \
            mpirun, send SIGTERM to rank 0 (its pid is printed) to checkpoint and stop every rank.
            Exit status: 0 done, 1 error, 2 divergence (the last good checkpoint is kept), 64 bad settings, 130/143/129 stopped by \
            SIGINT/SIGTERM/SIGHUP after writing a checkpoint.
            """
    )

    @OptionGroup(title: "The method") var method: MethodOptions
    @OptionGroup(title: "Parallel methods") var parallel: ParallelOptions
    @OptionGroup(title: "Net and data") var data: DataOptions
    @OptionGroup(title: "Budget") var budget: BudgetOptions
    @OptionGroup(title: "Evaluation, checkpoints and sharpness") var evaluation: EvaluationOptions
    @Option(help: "The run directory to create (its parent must exist).") var out: String?
    @Option(help: "Continue the run in RUN_DIR from its checkpoint (settings from its config.json).") var resume: String?
    @Flag(help: "No progress bar or per-evaluation lines.") var quiet = false


    var request: TrainRequest {
        var r = TrainRequest()
        r.method = method.method; r.net = data.net; r.data = data.data; r.learningRate = method.learningRate; r.momentum = method.momentum
        r.lrSchedule = method.lrSchedule; r.warmup = method.warmup
        r.movingRate = method.movingRate; r.weightDecay = method.weightDecay; r.batch = data.batch; r.epochs = budget.epochs; r.minutes = budget.minutes
        r.steps = budget.steps; r.seed = data.seed; r.initSeed = data.initSeed; r.evalEvery = evaluation.evalEvery; r.checkpointEveryMinutes = evaluation.checkpointEvery; r.threads = budget.threads
        r.sharpnessEvery = evaluation.sharpnessEvery; r.sharpnessOfWorkers = evaluation.sharpnessOf.map { $0 == .workers }
        r.trainSubset = data.trainSubset; r.fullBatch = data.fullBatch ? true : nil; r.testSubset = data.testSubset
        r.workers = parallel.workers; r.tau = parallel.tau; r.alpha = parallel.alpha; r.beta = parallel.beta; r.backend = parallel.backend; r.schedule = parallel.schedule
        let o = parallel.outerOptions
        r.outer = o.outer; r.outerLr = o.outerLr; r.outerMomentum = o.outerMomentum; r.outerDelay = o.outerDelay
        r.innerMomentum = o.innerMomentum; r.keepInnerVelocity = o.keepInnerVelocity ? true : nil
        r.compress = parallel.compress; r.compressReply = parallel.compressReply; r.compressBlock = parallel.compressBlock; r.compressRounding = parallel.compressRounding
        r.errorFeedback = parallel.errorFeedback ? true : nil
        r.computeSeconds = parallel.computeSeconds; r.communicationSeconds = parallel.communicationSeconds; r.out = out; r.resume = resume
        r.servers = parallel.servers; r.linkBandwidth = parallel.linkBandwidth; r.linkLatency = parallel.linkLatency
        r.mpiWorldSize = MPIDriver.launchedWorldSize
        r.isMPIWorkerRank = MPIDriver.isWorkerRank
        return r
    }

    func validate() throws {
        do { try request.validate() } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        StopSignal.install()
        defer { StopSignal.uninstall() }
        let report = RunReport(quiet: quiet)
        let plan = try request.plan()
        switch plan {
        case .sequential(let settings, let directory):
            ComputeThreads.set(settings.threads ?? ProcessInfo.processInfo.activeProcessorCount)
            try report.finish(try TrainingRun(settings: settings, directory: directory), resumed: false)
        case .resumeSequential(let saved, let rate, let directory):
            ComputeThreads.set(saved.threads ?? ProcessInfo.processInfo.activeProcessorCount)
            try report.finish(try TrainingRun.resume(directory: directory, settings: saved, rate: rate), resumed: true)
        case .parallel(let settings, let directory):
            try report.finish(driver(settings.backend ?? .threads), resumed: false) {
                try ParallelTrainingRun(settings: settings, directory: directory)
            }
        case .resumeParallel(let directory, let steps, let workers, let servers, let rate, let backend):
            try report.finish(driver(backend), resumed: true) {
                try ParallelTrainingRun.resume(directory: directory, steps: steps, workers: workers, servers: servers, rate: rate)
            }
        }
    }

    /// The one place a backend name becomes its driver.
    func driver(_ backend: Backend) -> any BackendDriver {
        switch backend {
        case .simulated: SimulatedDriver()
        case .threads: ThreadsDriver()
        case .mpi: MPIDriver(servers: request.resolvedServers)
        }
    }
}

/// Whose sharpness a parallel run measures.
enum SharpnessTarget: String, ExpressibleByArgument, CaseIterable {
    case center, workers
}

// The options of `easgd train`, in the groups `easgd help train` shows.

struct MethodOptions: ParsableArguments {
    @Option(help: ArgumentHelp("\(Algorithm.names { $0.isSequential }) (one worker) or \(Algorithm.names { $0.isParallel && $0.trainsNetworks }).",
                               valueName: "method"), transform: parseMethod)
    var method: Algorithm?
    @Option(name: [.customLong("lr"), .customLong("eta")],
            help: ArgumentHelp("Learning rate η (--eta is the same option). With --resume: a new η from the resume point on, recorded in config.json's changes.", valueName: "eta"))
    var learningRate: Double?
    @Option(help: ArgumentHelp("The learning rate's schedule: constant (default), step:AT1,AT2,...:FACTOR, cosine[:FINAL] or plateau:FACTOR[,FACTOR2,...]:PATIENCE.",
                               discussion: "step: η times FACTOR at each epoch AT_i reached; cosine: from η down to FINAL (default 0) over the budget's steps; plateau: η times FACTOR when the evaluations' train_loss has not improved by 1e-4 relative for more than PATIENCE evaluations; a list of factors is taken in order, once each (the paper's ImageNet rule is plateau:0.2,0.5:PATIENCE) (PyTorch's MultiStepLR, CosineAnnealingLR and ReduceLROnPlateau). Parallel runs apply it at each worker's own clock (its epochs are its own passes over the data, its budget its --steps), identically on every backend; a plateau's cut reaches the workers when the evaluation that makes it is done. Every record's eta is the rate in force. With --resume: a new schedule from the resume point on, at the run's step count.",
                               valueName: "schedule")) var lrSchedule: String?
    @Option(help: ArgumentHelp("Linear warm-up: the first W steps (each worker's own) take the schedule's rate times (t + 1)/W.", valueName: "W"))
    var warmup: Int?
    @Option(name: [.customLong("momentum"), .customLong("delta")],
            help: "Nesterov momentum δ of \(Algorithm.names { $0.takes(.momentum) }) (default \(TrainingDefaults.momentum); --delta is the same option).")
    var momentum: Double?
    @Option(help: "Moving rate of \(Algorithm.names { $0.takes(.movingRate) }) (default \(TrainingDefaults.movingRate)).") var movingRate: Double?
    @Option(help: "Weight decay λ (default \(TrainingDefaults.weightDecay)).") var weightDecay: Double?
}

struct ParallelOptions: ParsableArguments {
    @Option(help: "Workers p (parallel methods; default \(TrainingDefaults.workers); under mpirun the ranks − S). With --resume, another p is an elastic restart (under mpirun also -np S+P′; a resume never changes p unasked): kept workers keep their state, new ones start from the center, α = β/p follows p unless --alpha was given.") var workers: Int?
    @Option(help: "Communication period τ of \(Algorithm.names { $0.isParallel && $0.takes(.tau) && $0.trainsNetworks }) (default \(TrainingDefaults.tau)).") var tau: Int?
    @Option(help: "Elastic moving rate α of \(Algorithm.names { $0.takes(.alpha) }) (default β/p).") var alpha: Double?
    @Option(help: "β = pα (default \(TrainingDefaults.beta)).") var beta: Double?
    /// DiLoCo's outer step and inner optimizer (the same options as radius and map; checked by the library's rules).
    @OptionGroup var outerOptions: OuterOptions
    @Option(help: ArgumentHelp("Compress what a worker sends (\(Algorithm.names(where: \.compresses)): its update, or EASGD's exchange): none (default), fp16, bf16, int8 or int4.",
                               discussion: "int8 and int4 keep one Float32 scale per block of --compress-block values (default \(Codec.defaultBlockSize)). EASGD and EAMSGD send x − s, s what the master knows of x (the sum of the decoded messages, less the elastic differences since), and the master answers with the elastic difference α(s − x̃) in Float32: what one message misses goes with the next, so they take no --error-feedback and no --compress-reply (on MPI the exchange is not overlapped with the gradient). DiLoCo sends its pseudo-gradient, its round's start less its end (with --compress-reply the start is the center as the worker decoded it, which the master keeps too). The master sees the decoded values on every backend; on MPI the codec's bytes are what travels (with --servers S, each server's slice encoded on its own, as the simulated link model's S servers do too), the records' bytes_sent count them, and the simulated link model charges them.",
                               valueName: "format"))
    var compress: CodecFormat?
    @Option(help: ArgumentHelp("Compress the center the master sends back (\(Algorithm.names(where: \.sendsUpdates))): none (default), fp16, bf16, int8 or int4.",
                               discussion: "Delta-coded: the master encodes the center minus what the worker last received, and both add what decodes, so what one reply misses goes with the next (it keeps p copies of the center). On MPI the codec's bytes are what travels (with --servers S, each server's slice encoded on its own, with coins of its own). Block size and rounding from --compress-block and --compress-rounding; the records' bytes_received count the codec's bytes and the simulated link model charges them.",
                               valueName: "format"))
    var compressReply: CodecFormat?
    @Option(help: "Values per Float32 scale of int8 and int4 (default \(Codec.defaultBlockSize)); for --compress and --compress-reply.") var compressBlock: Int?
    @Option(help: "nearest (default) or stochastic (unbiased; coins drawn from the worker and its step); for --compress and --compress-reply.") var compressRounding: CodecRounding?
    @Flag(help: "With --compress: each worker keeps what the codec lost and adds it to its next message.") var errorFeedback = false
    @Option(help: "threads (the default; \(Algorithm.names { $0.stepsTogether }) in lockstep), simulated (one thread, virtual clock), or mpi (under mpirun -np P+1; \(Algorithm.names { $0.stepsTogether }) in lockstep through rank 0).")
    var backend: Backend?
    @Option(help: "Simulated order: clock (default), round-robin (τ steps per activation) or random (τ steps by a uniformly drawn worker per activation, from the run's seed; the budget is then p × --steps in all).") var schedule: Schedule?
    @Option(help: "Virtual seconds per worker step (default: measured once on this machine).") var computeSeconds: Double?
    @Option(help: "Virtual seconds per exchange (default 0).") var communicationSeconds: Double?
    @Option(help: ArgumentHelp("MPI: S ranks hold the center in S contiguous shards (default 1; under mpirun -np S+P).",
                               discussion: "Ranks 0…S−1 each serve one shard (rank 0 also coordinates, tests and checkpoints); ranks S…S+P−1 are the workers. A worker's exchange goes to every server at once (sync-easgd's and diloco's rounds too: every server steps its slice once all have agreed to take the round). Give the same --servers on every rank's command line; a resume may use another S. On the simulated backend with --link-bandwidth: the servers of the link model.",
                               valueName: "S")) var servers: Int?
    @Option(help: ArgumentHelp("Simulated: model the server links, each moving this many bytes per second (instead of --communication-seconds).",
                               discussion: "An exchange then costs each of the --servers S servers latency + 8·(n/S)/bandwidth seconds for its slice of the n parameters (in and out, Float32), one request at a time per server, so requests queue; the worker waits for its last shard (with --compress or --compress-reply, the codec's bytes instead of 8 per parameter). In a synchronous round (diloco, sync-easgd) every worker's request leaves at once and the round goes on when the last has been answered: p·8n/bandwidth on one server. Not for admm (a fixed order). Calibrated values for this machine are in benchmarks/README.md.",
                               valueName: "bytes/s")) var linkBandwidth: Double?
    @Option(help: "Simulated link model: seconds per request per server (default 0).") var linkLatency: Double?
}

struct DataOptions: ParsableArguments {
    @Option(help: "cifar, small, imagenet or a notation string (see `easgd net describe`; default: small for fashion-mnist, else cifar).")
    var net: String?
    @Option(help: "fashion-mnist (default) or a data directory.") var data: String?
    @Option(help: "Minibatch size (default \(TrainingDefaults.batch)).") var batch: Int?
    @Option(help: "Train on N images of the training set, chosen with the run's seed and kept in their order (every method).")
    var trainSubset: Int?
    @Flag(help: ArgumentHelp("Full-batch training on --train-subset N: every step (every worker's) on all N images.",
                             discussion: "What changes: the batch is the N images in their stored order (no shuffling), centre-cropped (no random crops or flips), with dropout off, so the training loss and its gradient are deterministic functions of the parameters; an epoch is one step. Weight decay is kept. The default cadence is then every ⌈(E + 1000)/N⌉ steps (see --eval-every)."))
    var fullBatch = false
    @Option(help: ArgumentHelp("Evaluate on the first M test images (default: all; a run on --train-subset N: the first max(N, 1000)).",
                               valueName: "M"))
    var testSubset: Int?
    @Option(help: "Seed of the initialisation, data order, crops and dropout (default \(TrainingDefaults.seed)).") var seed: UInt64?
    @Option(help: "The initialisation's own seed (default: --seed): repeats that differ in --seed start from one initialisation.")
    var initSeed: UInt64?
}

struct BudgetOptions: ParsableArguments {
    @Option(help: "Stop after this many epochs (sequential methods).") var epochs: Double?
    @Option(help: "Stop after this many minutes of training (sequential methods).") var minutes: Double?
    @Option(help: "Stop after this many steps (per worker for the parallel methods).") var steps: Int?
    @Option(help: "Threads for the matrix products and element-wise loops (sequential methods; default: all cores).") var threads: Int?
}

struct EvaluationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Evaluate every N steps, or every S seconds ('30s', parallel runs).",
                               discussion: "Default: \(TrainingDefaults.evaluationsPerEpoch) times per epoch for one worker, \(TrainingDefaults.evaluationsPerParallelRun) times per run for p workers, but never closer than ⌈(E + \(TrainingDefaults.trainLossImages))/B⌉ steps for E test images (--test-subset) and batch B, so that evaluating costs at most about a third of the training between two; the interval is recorded in config.json's eval_every. Parallel runs count worker steps in total; seconds are virtual on the simulated backend.",
                               valueName: "N|Ss")) var evalEvery: EvaluationInterval?
    @Option(help: "Checkpoint every M minutes (default \(Int(TrainingDefaults.checkpointEveryMinutes))).") var checkpointEvery: Double?
    @Option(help: ArgumentHelp("Measure the sharpness every N steps (worker steps in total for p workers).",
                               discussion: "h_max of the training loss at the evaluated model (the iterate or average; the center of a parallel run) on a fixed batch of the first \(SharpnessProbe.batch) training images (with --full-batch the whole subset), centre crop, dropout off, weight decay included, by Lanczos on Hessian-vector products to \(SharpnessProbe.tolerance) relative, as `easgd advise` measures it: `sharpness` and `sharpness_seconds` in the records (an evaluation is made at each such step). It never changes the training trajectory. Sequential, simulated and threads backends.",
                               valueName: "N")) var sharpnessEvery: Int?
    @Option(help: "center (default), or workers: each worker's sharpness too (worker_sharpness; simulated backend).") var sharpnessOf: SharpnessTarget?
}

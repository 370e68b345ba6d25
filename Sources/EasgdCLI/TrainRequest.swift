// A training request as a user gives it on `easgd train`'s command line (every field optional): which options go
// together, and the run settings it resolves to with the defaults of `TrainingDefaults`. The values themselves
// are checked by the library's rules (`RunSettings.check`, also applied to a resumed run's saved settings).
// TrainCommand parses into it and calls `validate()` and `plan()`.

import Records
import Elastic
import Foundation
import Training
import Engine

public struct TrainRequest: Sendable, Equatable {
    public var method: Algorithm?
    public var net: String?
    public var data: String?
    public var learningRate: Double?
    /// `--lr-schedule` as given, and `--warmup` steps (LearningRateSchedule).
    public var lrSchedule: String?
    public var warmup: Int?
    public var momentum: Double?
    public var movingRate: Double?
    public var weightDecay: Double?
    public var batch: Int?
    public var epochs: Double?
    public var minutes: Double?
    /// Steps (per worker, for the parallel methods).
    public var steps: Int?
    public var seed: UInt64?
    /// The initialisation's own seed (nil: `seed`).
    public var initSeed: UInt64?
    public var evalEvery: EvaluationInterval?
    public var checkpointEveryMinutes: Double?
    public var threads: Int?
    /// Measure the sharpness every N steps (worker steps in total for the parallel methods), and for a parallel
    /// run also each worker's.
    public var sharpnessEvery: Int?
    public var sharpnessOfWorkers: Bool?
    /// Train on N images of the training set (seeded by the run's seed), and with `fullBatch` every step on all.
    public var trainSubset: Int?
    public var fullBatch: Bool?
    /// Evaluate on the first M test images (default: all, or max(N, 1,000) for a run on --train-subset N).
    public var testSubset: Int?
    // The parallel methods.
    public var workers: Int?
    public var tau: Int?
    public var alpha: Double?
    public var beta: Double?
    /// DiLoCo's outer step (defaults DiLoCo's: Nesterov, η_o = 0.7, β = 0.9).
    public var outer: OuterOptimizer?
    public var outerLr: Double?
    public var outerMomentum: Double?
    /// 1: each round's pseudo-gradient applied one round late (diloco).
    public var outerDelay: Int?
    /// diloco's inner Nesterov momentum δ, and whether its velocity is kept across rounds.
    public var innerMomentum: Double?
    public var keepInnerVelocity: Bool?
    /// What the workers' updates go through: a codec's format, block and rounding, and error feedback.
    public var compress: CodecFormat?
    /// The codec of the center sent back (delta-coded; block and rounding shared with `compress`).
    public var compressReply: CodecFormat?
    public var compressBlock: Int?
    public var compressRounding: CodecRounding?
    public var errorFeedback: Bool?
    public var backend: Backend?
    /// The simulator's order: clock, round-robin or random.
    public var schedule: Schedule?
    public var computeSeconds: Double?
    public var communicationSeconds: Double?
    /// S shard servers: under MPI the ranks holding a shard of the center (default 1; not a setting of the run, so
    /// a resume may change it); on the simulated backend the servers of its link model.
    public var servers: Int?
    /// The simulated backend's link model: seconds per request per server, and bytes per second per server.
    public var linkLatency: Double?
    public var linkBandwidth: Double?
    /// A new run directory, or one to resume.
    public var out: String?
    public var resume: String?

    public init() {}

    /// Under mpirun, the ranks it started (S + P): p of a new MPI run. Only rank 0 reads or writes the run
    /// directory (`isMPIWorkerRank` skips the checks that need it).
    public var mpiWorldSize: Int? = nil
    public var isMPIWorkerRank = false

    /// The settings a parallel run may not change on --resume (--workers may: an elastic restart), and, with
    /// --workers, those a sequential one may not.
    private var parallelGiven: [(String, Bool)] {
        [("--tau", tau != nil), ("--alpha", alpha != nil), ("--beta", beta != nil), ("--outer", outer != nil),
         ("--outer-lr", outerLr != nil), ("--outer-momentum", outerMomentum != nil), ("--outer-delay", outerDelay != nil),
         ("--inner-momentum", innerMomentum != nil), ("--keep-inner-velocity", keepInnerVelocity != nil),
         ("--compress", compress != nil), ("--compress-reply", compressReply != nil), ("--compress-block", compressBlock != nil), ("--compress-rounding", compressRounding != nil),
         ("--error-feedback", errorFeedback != nil),
         ("--backend", backend != nil), ("--schedule", schedule != nil), ("--compute-seconds", computeSeconds != nil),
         ("--communication-seconds", communicationSeconds != nil), ("--link-latency", linkLatency != nil),
         ("--link-bandwidth", linkBandwidth != nil)]
    }

    /// The backend the run uses: the one given, else the preferred one for its method.
    public var resolvedBackend: Backend? { backend ?? method.map(Backend.preferred(for:)) }

    /// S, the servers of an MPI run.
    public var resolvedServers: Int { servers ?? 1 }

    public func validate() throws {
        try validateValues()
        if let servers {
            if let problem = Limits.problem("--servers", servers, Limits.servers) { throw SettingsError(problem) }
            let modelled = resume == nil && resolvedBackend == .simulated && linkBandwidth != nil
            let mpi = mpiWorldSize != nil && (resume != nil || resolvedBackend == .mpi)
            guard mpi || modelled else {
                throw SettingsError("--servers applies to MPI runs (under mpirun, --backend mpi) and to the simulated backend's link model (with --link-bandwidth)")
            }
        }
        if let size = mpiWorldSize, size <= resolvedServers, servers != nil || (resume == nil && resolvedBackend == .mpi) {
            throw SettingsError("mpirun started \(size) ranks for \(resolvedServers) server\(resolvedServers == 1 ? "" : "s"): give -np S+P with at least one worker")
        }
        if let resume { return try validateResume(resume) }
        guard let out else { throw SettingsError("give --out RUN_DIR (or --resume RUN_DIR)") }
        guard let method else { throw SettingsError("give --method (\(Algorithm.names { $0.trainsNetworks }))") }
        guard method.trainsNetworks else {
            throw SettingsError("\(method.rawValue) runs on the quadratic objective only: use easgd train-quadratic")
        }
        guard learningRate != nil else { throw SettingsError("give the learning rate --lr") }
        if let net { _ = try NetSpec(parsing: net) }       // a bad spec is a usage error, found before anything runs
        if method.isParallel {
            try validateParallel(method)
        } else {
            if let given = ([("--workers", workers != nil)] + parallelGiven).first(where: \.1) {
                throw SettingsError("\(given.0) and the other parallel settings apply to the parallel methods (\(Algorithm.names { $0.isParallel && $0.trainsNetworks })), not \(method.rawValue)")
            }
            if evalEvery?.seconds != nil {
                throw SettingsError("--eval-every in seconds applies to the parallel methods; give a step count for \(method.rawValue)")
            }
            guard epochs != nil || minutes != nil || steps != nil else {
                throw SettingsError("give a budget: --epochs, --minutes or --steps")
            }
            if try rateSchedule?.needsStepBudget == true, epochs == nil, steps == nil {
                throw SettingsError("--lr-schedule cosine anneals over the budget's steps: give --steps or --epochs")
            }
        }
        if fullBatch == true {
            guard trainSubset != nil else { throw SettingsError("--full-batch needs --train-subset N (the batch is those N images)") }
            guard batch == nil else { throw SettingsError("--full-batch takes the whole --train-subset as its batch: give no --batch") }
        }
        if sharpnessOfWorkers != nil && sharpnessEvery == nil { throw SettingsError("--sharpness-of needs --sharpness-every N") }
        if sharpnessEvery != nil, method.isParallel, resolvedBackend == .mpi {
            throw SettingsError("--sharpness-every is measured on the sequential, simulated and threads backends, not mpi")
        }
        if sharpnessOfWorkers == true {
            guard method.isParallel, resolvedBackend == .simulated else {
                throw SettingsError("--sharpness-of workers applies to parallel runs on the simulated backend (where the workers can be read between steps)")
            }
        }
        if momentum != nil, !method.takes(.momentum) {
            throw SettingsError("--momentum applies to \(Algorithm.names { $0.takes(.momentum) }), not \(method.rawValue)")
        }
        if movingRate != nil, !method.takes(.movingRate) {
            throw SettingsError("--moving-rate applies to \(Algorithm.names { $0.takes(.movingRate) }), not \(method.rawValue)")
        }
        // Under mpirun only rank 0 writes the run directory; the other ranks must not race it.
        if !isMPIWorkerRank && RunFiles.holdsRun(out) {
            throw SettingsError("\(out) already holds a run; resume it with --resume \(out) or choose another --out")
        }
        try OutputPath.checkParent(of: out, for: "--out")
    }

    /// A resume may give the budget, --threads, --workers (an elastic restart) and the learning rate; the rest is
    /// the run's own.
    private func validateResume(_ resume: String) throws {
        let fixed: [(String, Bool)] = [("--method", method != nil), ("--net", net != nil), ("--data", data != nil),
                                       ("--momentum", momentum != nil),
                                       ("--moving-rate", movingRate != nil), ("--weight-decay", weightDecay != nil),
                                       ("--batch", batch != nil), ("--seed", seed != nil), ("--init-seed", initSeed != nil), ("--out", out != nil),
                                       ("--eval-every", evalEvery != nil), ("--checkpoint-every", checkpointEveryMinutes != nil),
                                       ("--sharpness-every", sharpnessEvery != nil), ("--sharpness-of", sharpnessOfWorkers != nil),
                                       ("--train-subset", trainSubset != nil), ("--full-batch", fullBatch != nil),
                                       ("--test-subset", testSubset != nil)]
        // An elastic restart's p meets the limit of a new run's (before: --workers 0 crashed, 257 ran).
        if let workers, let problem = Limits.problem("--workers", workers, Limits.trainingWorkers) { throw SettingsError(problem) }
        if let given = parallelGiven.first(where: \.1) {
            throw SettingsError("the parallel settings cannot change on --resume (\(given.0) given; only --steps and --workers may be given)")
        }
        if let given = fixed.first(where: \.1) {
            throw SettingsError("\(given.0) cannot be combined with --resume: the run's settings come from \(resume)/config.json (only --epochs, --minutes, --steps, --threads, and --lr, --lr-schedule, --warmup from here on, may be given)")
        }
        guard isMPIWorkerRank || FileManager.default.fileExists(atPath: RunFiles.checkpoint(resume)) else {
            throw SettingsError("\(resume) holds no checkpoint.bin to resume from (a run that never wrote one can be started again with the same --out)")
        }
    }

    private func validateParallel(_ method: Algorithm) throws {
        if let workers, let problem = Limits.problem("--workers", workers, Limits.trainingWorkers) { throw SettingsError(problem) }
        if let tau {
            guard method.takes(.tau) else { throw SettingsError("--tau applies to \(Algorithm.names { $0.takes(.tau) && $0.trainsNetworks }); \(method.rawValue) exchanges every step") }
            if let problem = Limits.problem("--tau", tau, Limits.trainingTau) { throw SettingsError(problem) }
        }
        if alpha != nil || beta != nil, !method.takes(.alpha) {
            throw SettingsError("--alpha and --beta apply to \(Algorithm.names { $0.takes(.alpha) }), not \(method.rawValue)")
        }
        if alpha != nil && beta != nil { throw SettingsError("give only one of --alpha or --beta (beta = p * alpha)") }
        if outer != nil || outerLr != nil || outerMomentum != nil || outerDelay != nil || innerMomentum != nil || keepInnerVelocity != nil,
           !method.takes(.outer) {
            throw SettingsError("--outer, --outer-lr, --outer-momentum and --outer-delay apply to \(Algorithm.names { $0.takes(.outer) }), not \(method.rawValue)")
        }
        if let outerDelay, outerDelay != 0 && outerDelay != 1 { throw SettingsError("--outer-delay is 0 or 1 (rounds; got \(outerDelay))") }
        if method.takes(.outer) { try RunSettings.check(outer: resolvedOuter, method: method) }
        let compressing = compress != nil && compress != CodecFormat.none
        let replying = compressReply != nil && compressReply != CodecFormat.none
        if !compressing, errorFeedback != nil { throw SettingsError("--error-feedback needs --compress FORMAT (fp16, bf16, int8 or int4)") }
        if !compressing && !replying,
           let given = [("--compress-block", compressBlock != nil), ("--compress-rounding", compressRounding != nil)].first(where: \.1) {
            throw SettingsError("\(given.0) needs --compress FORMAT or --compress-reply FORMAT (fp16, bf16, int8 or int4)")
        }
        if replying {
            guard method.sendsUpdates else {
                throw SettingsError("--compress-reply applies where the master answers with the center (\(Algorithm.names(where: \.sendsUpdates))), not to \(method.rawValue)")
            }
            if let compressBlock, let problem = Limits.problem("--compress-block", compressBlock, 1...(1 << 20)) { throw SettingsError(problem) }
        }
        if let compress, compress != CodecFormat.none {
            guard method.compresses else {
                throw SettingsError("--compress applies to what a worker sends (\(Algorithm.names(where: \.compresses))), not to \(method.rawValue)")
            }
            if !method.sendsUpdates {
                if errorFeedback == true {
                    throw SettingsError("\(method.rawValue)'s coded exchange sends x − s, which keeps what the codec lost for the next message by itself: drop --error-feedback")
                }
            }
            if let compressBlock, let problem = Limits.problem("--compress-block", compressBlock, 1...(1 << 20)) { throw SettingsError(problem) }
        }
        if let linkLatency, let problem = Limits.problem("--link-latency", linkLatency, .nonNegative) { throw SettingsError(problem) }
        if let linkBandwidth, let problem = Limits.problem("--link-bandwidth", linkBandwidth, .positive) { throw SettingsError(problem) }
        if linkLatency != nil && linkBandwidth == nil { throw SettingsError("--link-latency needs --link-bandwidth (the link model)") }
        if linkBandwidth != nil && method.needsFixedOrder {
            throw SettingsError("the link model queues requests as they come; \(method.rawValue) runs in a fixed round-robin order: give --communication-seconds")
        }
        if linkBandwidth != nil && communicationSeconds != nil {
            throw SettingsError("give either --communication-seconds (a fixed cost per exchange) or the link model (--link-bandwidth, --link-latency)")
        }
        let backend = resolvedBackend ?? .threads
        if backend != .simulated, let given = [("--schedule", schedule != nil), ("--compute-seconds", computeSeconds != nil),
                                               ("--communication-seconds", communicationSeconds != nil),
                                               ("--link-latency", linkLatency != nil), ("--link-bandwidth", linkBandwidth != nil)].first(where: \.1) {
            throw SettingsError("\(given.0) applies to the simulated backend: add --backend simulated")
        }
        try backend.check(method)
        guard steps != nil, epochs == nil, minutes == nil else {
            throw SettingsError("parallel runs take their budget as --steps (per worker)")
        }
        if backend == .mpi, let workers, let size = mpiWorldSize, workers != size - resolvedServers {
            throw SettingsError("--workers \(workers) but mpirun started \(size) ranks (S + P = \(resolvedServers) + \(workers) = \(resolvedServers + workers))")
        }
        if backend == .mpi && mpiWorldSize == nil {
            throw SettingsError("--backend mpi runs under mpirun: mpirun -np P+1 easgd train --backend mpi ... (P workers and rank 0)")
        }
    }

    /// The codec the workers' updates go through (nil: none).
    var resolvedCompression: Compression? {
        .given(compress, rounding: compressRounding, blockSize: compressBlock, errorFeedback: errorFeedback == true)
    }

    /// The codec of the center sent back (nil: none).
    var resolvedReplyCompression: Codec? {
        Compression.given(compressReply, rounding: compressRounding, blockSize: compressBlock, errorFeedback: false)?.codec
    }

    /// DiLoCo's outer step as given, DiLoCo's defaults for the rest.
    var resolvedOuter: OuterSettings {
        .given(optimizer: outer, learningRate: outerLr, momentum: outerMomentum, delayed: outerDelay == 1,
               innerMomentum: innerMomentum, keepsInnerVelocity: keepInnerVelocity == true)
    }

    /// The schedule `--lr-schedule` and `--warmup` give (nil when neither is given).
    public var rateSchedule: LearningRateSchedule? {
        get throws {
            guard lrSchedule != nil || warmup != nil else { return nil }
            do { return try LearningRateSchedule(parsing: lrSchedule ?? "constant", warmup: warmup ?? 0) } catch {
                throw SettingsError("\(error)")
            }
        }
    }

    /// The checks of single values (ranges, finiteness): the library's rules (`RunSettings.check`), also those a
    /// resume applies to the saved settings.
    func validateValues() throws {
        try RunSettings.check(learningRate: learningRate, warmup: warmup, momentum: momentum, movingRate: movingRate,
                              weightDecay: weightDecay, batch: batch, fullBatch: fullBatch == true, trainSubset: trainSubset,
                              testSubset: testSubset, epochs: epochs, minutes: minutes, steps: steps, evalEvery: evalEvery,
                              checkpointEveryMinutes: checkpointEveryMinutes, threads: threads, sharpnessEvery: sharpnessEvery,
                              workers: workers, tau: tau, alpha: alpha, beta: beta, computeSeconds: computeSeconds,
                              communicationSeconds: communicationSeconds)
        _ = try rateSchedule
    }

    /// The batch a new run uses: the whole --train-subset with --full-batch (validate() requires it), else
    /// --batch or the default.
    private var resolvedBatch: Int { fullBatch == true ? trainSubset ?? TrainingDefaults.batch : batch ?? TrainingDefaults.batch }

    /// A resume: the run's saved settings (checked again: config.json may have been edited) with what the command
    /// changes, and under mpirun the launch checked against the run's p and S.
    private func planResume(_ resume: String) throws -> Plan {
        let rate = RateChange(learningRate: learningRate, schedule: try rateSchedule)
        if isMPIWorkerRank { return .resumeParallel(directory: resume, steps: steps, workers: nil, servers: nil, rate: rate, backend: .mpi) }
        let config = try RunFiles.readConfig(resume)
        if config.settings.isParallel {
            let saved = config, e = saved.settings.engine
            var checked = saved.settings
            if let steps { checked.steps = steps }
            try TrainRequest.checkSaved(checked, in: resume)
            guard epochs == nil, minutes == nil else { throw SettingsError("a parallel run resumes with --steps (per worker) only") }
            let backend = saved.settings.backend ?? .threads
            if backend == .mpi && mpiWorldSize == nil {
                throw SettingsError("\(resume) is an MPI run: continue it under mpirun (mpirun -np \(saved.settings.engine.workers + 1) easgd train --resume \(resume), or -np S+P with --servers S)")
            }
            // Under mpirun every rank takes the MPI driver, so that a run of another backend is refused on rank 0
            // after MPI has started, with MPI_Abort, and no worker rank is left waiting.
            // A resume keeps the run's p and, under mpirun, its last S, unless the command says otherwise
            // (--workers P′, --servers S′); a launch that does not fit them is refused, saying what would.
            guard let size = mpiWorldSize else {
                return .resumeParallel(directory: resume, steps: steps, workers: workers, servers: nil, rate: rate, backend: backend)
            }
            let savedServers = saved.settings.mpiServers ?? 1
            if servers == nil && savedServers != 1 {
                throw SettingsError("\(resume) ran with --servers \(savedServers): resume it with mpirun -np \(savedServers + e.workers) easgd train --resume \(resume) --servers \(savedServers) (or give --servers S to change it)")
            }
            let s = resolvedServers, p = size - s
            guard Limits.trainingWorkers.contains(p) else {
                throw SettingsError("mpirun started \(size) ranks for \(s) server\(s == 1 ? "" : "s"): a run takes \(Limits.trainingWorkers.lowerBound) to \(Limits.trainingWorkers.upperBound) workers (-np S+P)")
            }
            if let workers, workers != p {
                throw SettingsError("--workers \(workers) but mpirun started \(size) ranks (S + P = \(s) + \(workers) = \(s + workers)): use -np \(s + workers)")
            }
            if workers == nil && p != e.workers {
                throw SettingsError("\(resume) has p = \(e.workers) workers and mpirun started \(size) ranks for \(s) server\(s == 1 ? "" : "s"): resume it with -np \(s + e.workers), or give --workers \(p) for an elastic restart to p = \(p)")
            }
            return .resumeParallel(directory: resume, steps: steps, workers: p, servers: s, rate: rate, backend: .mpi)
        }
        if workers != nil { throw SettingsError("--workers cannot be combined with --resume of a sequential run") }
        // The saved thread count unless told otherwise: oneDNN's sums depend on it, and so do the bits.
        var saved = config.settings
        if let threads { saved.threads = threads }
        let budget = Budget(epochs: epochs, minutes: minutes, steps: steps)
        if !budget.isEmpty { saved.budget = budget }
        try TrainRequest.checkSaved(saved, in: resume)
        if saved.evalEvery?.seconds != nil { throw SettingsError("\(RunFiles.config(resume)): a sequential run evaluates every N steps") }
        if (rate.schedule ?? saved.lrSchedule)?.needsStepBudget == true, saved.budget.epochs == nil, saved.budget.steps == nil {
            throw SettingsError("--lr-schedule cosine anneals over the budget's steps: give --steps or --epochs")
        }
        return .resumeSequential(saved, rate: rate, directory: resume)
    }

    /// A run's saved settings pass the library's rules before it resumes (config.json may have been edited).
    static func checkSaved(_ settings: RunSettings, in directory: String) throws {
        do { try settings.validate() } catch let error as SettingsError {
            throw SettingsError("\(RunFiles.config(directory)): \(error.description)")
        }
    }

    /// What to run, with every default filled in. Call after `validate()`.
    public enum Plan: Equatable {
        case sequential(RunSettings, directory: String)
        /// The saved settings, with the new budget (when given) and thread count (when given), and a new learning
        /// rate or schedule from here on.
        case resumeSequential(RunSettings, rate: RateChange, directory: String)
        case parallel(RunSettings, directory: String)
        /// `backend` from the run's config.json; mpi on every rank under mpirun (worker ranks read no directory).
        /// `workers`: a new p (an elastic restart), from --workers or under mpirun from its ranks; `rate`: a new
        /// learning rate or schedule from here on.
        case resumeParallel(directory: String, steps: Int?, workers: Int?, servers: Int?, rate: RateChange, backend: Backend)
    }

    public func plan() throws -> Plan {
        if let resume { return try planResume(resume) }
        guard let method, let out, let learningRate else { throw SettingsError("give --method, --lr and --out") }
        let data = data ?? TrainingDefaults.data
        let net = net ?? TrainingDefaults.net(for: data)
        let spec = try NetSpec(parsing: net)
        if method.isSequential {
            var optimizer = OptimizerSettings(method: method, learningRate: learningRate, momentum: momentum ?? TrainingDefaults.momentum,
                                              movingRate: movingRate ?? TrainingDefaults.movingRate,
                                              weightDecay: weightDecay ?? TrainingDefaults.weightDecay)
            optimizer.schedule = try rateSchedule
            var settings = RunSettings(method: method, learningRate: learningRate, net: net, netSpec: spec.text, data: data,
                                       batch: resolvedBatch, seed: seed ?? TrainingDefaults.seed,
                                       budget: Budget(epochs: epochs, minutes: minutes, steps: steps), evalEvery: evalEvery,
                                       checkpointEveryMinutes: checkpointEveryMinutes ?? TrainingDefaults.checkpointEveryMinutes,
                                       threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                       sharpnessEvery: sharpnessEvery, trainSubset: trainSubset, fullBatch: fullBatch)
            settings.optimizer = optimizer
            settings.testSubset = testSubset
            settings.initSeed = initSeed
            return .sequential(settings, directory: out)
        }
        let backend = resolvedBackend ?? .threads
        let p = backend == .mpi ? (mpiWorldSize.map { $0 - resolvedServers } ?? workers ?? TrainingDefaults.workers) : (workers ?? TrainingDefaults.workers)
        guard let steps else { throw SettingsError("parallel runs take their budget as --steps (per worker)") }
        var engine = EngineSettings(method: method, workers: p, learningRate: learningRate, alpha: alpha,
                                    beta: beta ?? TrainingDefaults.beta, tau: tau ?? TrainingDefaults.tau,
                                    momentum: momentum ?? TrainingDefaults.momentum, movingRate: movingRate ?? TrainingDefaults.movingRate,
                                    weightDecay: weightDecay ?? TrainingDefaults.weightDecay,
                                    outer: method.takes(.outer) ? resolvedOuter : nil)
        engine.schedule = try rateSchedule
        engine.compression = resolvedCompression
        engine.replyCompression = resolvedReplyCompression
        var settings = RunSettings(
            engine: engine, net: net, netSpec: spec.text, data: data, batch: resolvedBatch,
            seed: seed ?? TrainingDefaults.seed, backend: backend, schedule: schedule ?? .clock, computeSeconds: computeSeconds,
            communicationSeconds: communicationSeconds ?? 0, steps: steps,
            evalEvery: evalEvery,
            checkpointEveryMinutes: checkpointEveryMinutes ?? TrainingDefaults.checkpointEveryMinutes,
            sharpnessEvery: sharpnessEvery, sharpnessOfWorkers: sharpnessOfWorkers, trainSubset: trainSubset, fullBatch: fullBatch)
        if alpha == nil && method.takes(.alpha) { settings.alphaFromBeta = beta ?? TrainingDefaults.beta }
        settings.testSubset = testSubset
        settings.initSeed = initSeed
        if backend == .mpi { settings.mpiServers = resolvedServers }
        if backend == .simulated, let linkBandwidth {
            settings.links = ServerLinks(servers: resolvedServers, latency: linkLatency ?? 0, bandwidth: linkBandwidth)
        }
        return .parallel(settings, directory: out)
    }

}

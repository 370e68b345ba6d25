// A training run's settings, one type for every method and backend: config.json's `settings`. A sequential
// method is one worker and no backend; a parallel one has p workers, a backend and its coupling. Configs written
// before 2026-12-05 held one of two other schemas (a sequential run's with its `optimizer`, a parallel run's with
// its `engine`); both are read, and a resumed run writes this one.

import Elastic
import Foundation
import Records

/// When a run stops: whichever budget is reached first. Each is a total over the run, across resumptions.
public struct Budget: Codable, Equatable, Sendable {
    // "steps_per_worker" in config.json ("steps" before 2026-12-06; a sequential run is one worker).
    enum CodingKeys: String, CodingKey { case epochs, minutes, steps = "stepsPerWorker" }
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

public struct RunSettings: Codable, Equatable, Sendable {
    // MARK: The method and its hyper-parameters
    public var method: Algorithm
    /// η, and its schedule (nil: constant, and in configs written before schedules).
    public var learningRate: Double
    public var lrSchedule: LearningRateSchedule?
    /// Nesterov momentum δ (MSGD, EAMSGD, MDOWNPOUR), the moving rate of the averages (MVASGD, MVADOWNPOUR), and λ
    /// of the objective's λ/2‖x‖²; held always, written to config.json only where the method takes them.
    public var momentum: Double
    public var movingRate: Double
    public var weightDecay: Double
    /// p: 1 for the sequential methods.
    public var workers: Int
    /// The parallel methods: α (derived as β/p when `alphaFromBeta` holds β), τ and ADMM's ρ; nil for sequential runs.
    public var alpha: Double?
    public var alphaFromBeta: Double?
    public var tau: Int?
    public var rho: Double?
    /// DiLoCo's outer step (nil for the other methods).
    public var outer: OuterSettings?
    /// What the workers' updates go through on their way to the master (nil: Float32).
    public var compression: Compression?
    /// The codec of the center the master sends back, delta-coded against what the worker last received (nil:
    /// Float32).
    public var replyCompression: Codec?

    // MARK: Net and data
    /// The net as given ("cifar", "small" or a notation string) and its notation.
    public var net: String
    public var netSpec: String
    /// "fashion-mnist" or a directory.
    public var data: String
    public var batch: Int
    public var seed: UInt64
    /// `--init-seed`: the initialisation's own seed (nil: `seed`), so that runs differing in their data order,
    /// crops and dropout can share one initialisation (the paper's protocol for its repeats).
    public var initSeed: UInt64?
    /// The seed the initialisation draws from.
    public var initialisationSeed: UInt64 { initSeed ?? seed }
    /// `--train-subset N` (seeded by `seed`) and `--full-batch` (every step, every worker's, on all N).
    public var trainSubset: Int?
    public var fullBatch: Bool?
    /// The test images evaluated: the first this many (nil: all, as every run before 2026-12-06 evaluated).
    /// A new run fixes it when it starts (`fixEvaluations`).
    public var testSubset: Int?
    /// Each convolution's path, fixed when the run starts and kept on resume (nil in configs written before runs
    /// recorded them: they ran on oneDNN).
    public var convolutions: [ConvolutionPath]?

    // MARK: Budget, evaluations, checkpoints
    /// Whichever is reached first; a parallel run's is `steps` per worker.
    public var budget: Budget
    /// Evaluate every N steps (worker steps in total for p workers) or S seconds (parallel runs); nil: four times
    /// per epoch (sequential runs).
    public var evalEvery: EvaluationInterval?
    /// Checkpoint every this many minutes of wall-clock time (always at the start, the end and on a signal).
    public var checkpointEveryMinutes: Double?
    /// Measure the sharpness every this many steps (worker steps in total), and (simulated) each worker's too.
    public var sharpnessEvery: Int?
    public var sharpnessOfWorkers: Bool?

    // MARK: Execution
    /// Sequential runs: the compute threads (oneDNN's and OpenBLAS's sums depend on them, so a resume keeps them).
    public var threads: Int?
    /// Parallel runs: the backend; the simulator's order and virtual costs (compute nil: measured once), its link
    /// model; S, the ranks holding a shard of the center at an MPI run's last launch.
    public var backend: Backend?
    public var simulatorOrder: Schedule?
    public var computeSeconds: Double?
    public var communicationSeconds: Double?
    public var links: ServerLinks?
    public var mpiServers: Int?

    // MARK: History
    /// Worker steps done before the last elastic restart beyond the workers' clocks since (nil: none).
    public var stepOffset: Int?
    /// Every change a resume made (p and α, S, the learning rate), dated, in order (nil: none).
    public var changes: [SettingsChange]?

    /// A sequential run (one worker).
    public init(method: Algorithm, learningRate: Double, momentum: Double = TrainingDefaults.momentum,
                movingRate: Double = TrainingDefaults.movingRate, weightDecay: Double = TrainingDefaults.weightDecay,
                net: String, netSpec: String, data: String, batch: Int, seed: UInt64, budget: Budget,
                evalEvery: EvaluationInterval? = nil, checkpointEveryMinutes: Double? = TrainingDefaults.checkpointEveryMinutes,
                threads: Int? = 1, sharpnessEvery: Int? = nil, trainSubset: Int? = nil, fullBatch: Bool? = nil) {
        self.method = method
        self.learningRate = learningRate
        self.momentum = momentum
        self.movingRate = movingRate
        self.weightDecay = weightDecay
        workers = 1
        self.net = net
        self.netSpec = netSpec
        self.data = data
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

    public var isParallel: Bool { method.isParallel }

    /// Steps per worker (a parallel run's budget).
    public var steps: Int {
        get { budget.steps ?? 0 }
        set { budget.steps = newValue }
    }

    /// The sequential optimizer's view of the method's settings.
    public var optimizer: OptimizerSettings {
        get {
            var o = OptimizerSettings(method: method, learningRate: learningRate, momentum: momentum, movingRate: movingRate,
                                      weightDecay: weightDecay)
            o.schedule = lrSchedule
            return o
        }
        set {
            method = newValue.method
            learningRate = newValue.learningRate
            momentum = newValue.momentum
            movingRate = newValue.movingRate
            weightDecay = newValue.weightDecay
            lrSchedule = newValue.schedule
        }
    }

    // config.json's keys (snake_case as RunFiles writes them: "eta", "eta_schedule", "beta", …). Configs written
    // before 2026-12-06 were camelCase and named three of these otherwise (learningRate, lrSchedule, alphaFromBeta):
    // RunFiles' decoder reads them under today's names.
    enum CodingKeys: String, CodingKey {
        case method, learningRate = "eta", lrSchedule = "etaSchedule", momentum, movingRate, weightDecay, workers, alpha
        case alphaFromBeta = "beta", tau, rho, outer, compression, replyCompression = "compressReply"
        case net, netSpec, data, batch, seed, initSeed, trainSubset, fullBatch, testSubset, convolutions
        case budget, evalEvery, checkpointEveryMinutes, sharpnessEvery, sharpnessOfWorkers
        case threads, backend, simulatorOrder, computeSeconds, communicationSeconds, links, mpiServers
        case stepOffset, changes
    }

    /// Today's schema, or either of the two before it.
    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self)
        if keys.contains(AnyKey("optimizer")) {
            self = try RunSettings(legacySequential: decoder)
            return
        }
        if keys.contains(AnyKey("engine")) {
            self = try RunSettings(legacyParallel: decoder)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.decode(Algorithm.self, forKey: .method)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        lrSchedule = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .lrSchedule)
        momentum = try c.decodeIfPresent(Double.self, forKey: .momentum) ?? TrainingDefaults.momentum
        movingRate = try c.decodeIfPresent(Double.self, forKey: .movingRate) ?? TrainingDefaults.movingRate
        weightDecay = try c.decode(Double.self, forKey: .weightDecay)
        workers = try c.decode(Int.self, forKey: .workers)
        alpha = try c.decodeIfPresent(Double.self, forKey: .alpha)
        alphaFromBeta = try c.decodeIfPresent(Double.self, forKey: .alphaFromBeta)
        tau = try c.decodeIfPresent(Int.self, forKey: .tau)
        rho = try c.decodeIfPresent(Double.self, forKey: .rho)
        outer = try c.decodeIfPresent(OuterSettings.self, forKey: .outer)
        compression = try c.decodeIfPresent(Compression.self, forKey: .compression)
        replyCompression = try c.decodeIfPresent(Codec.self, forKey: .replyCompression)
        net = try c.decode(String.self, forKey: .net)
        netSpec = try c.decode(String.self, forKey: .netSpec)
        data = try c.decode(String.self, forKey: .data)
        batch = try c.decode(Int.self, forKey: .batch)
        seed = try c.decode(UInt64.self, forKey: .seed)
        initSeed = try c.decodeIfPresent(UInt64.self, forKey: .initSeed)
        trainSubset = try c.decodeIfPresent(Int.self, forKey: .trainSubset)
        fullBatch = try c.decodeIfPresent(Bool.self, forKey: .fullBatch)
        testSubset = try c.decodeIfPresent(Int.self, forKey: .testSubset)
        convolutions = try c.decodeIfPresent([ConvolutionPath].self, forKey: .convolutions)
        budget = try c.decode(Budget.self, forKey: .budget)
        evalEvery = try c.decodeIfPresent(EvaluationInterval.self, forKey: .evalEvery)
        checkpointEveryMinutes = try c.decodeIfPresent(Double.self, forKey: .checkpointEveryMinutes)
        sharpnessEvery = try c.decodeIfPresent(Int.self, forKey: .sharpnessEvery)
        sharpnessOfWorkers = try c.decodeIfPresent(Bool.self, forKey: .sharpnessOfWorkers)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        backend = try c.decodeIfPresent(Backend.self, forKey: .backend)
        simulatorOrder = try c.decodeIfPresent(Schedule.self, forKey: .simulatorOrder)
        computeSeconds = try c.decodeIfPresent(Double.self, forKey: .computeSeconds)
        communicationSeconds = try c.decodeIfPresent(Double.self, forKey: .communicationSeconds)
        links = try c.decodeIfPresent(ServerLinks.self, forKey: .links)
        mpiServers = try c.decodeIfPresent(Int.self, forKey: .mpiServers)
        stepOffset = try c.decodeIfPresent(Int.self, forKey: .stepOffset)
        changes = try c.decodeIfPresent([SettingsChange].self, forKey: .changes)
    }

    /// Every setting, each hyper-parameter only where the method takes it (an EASGD run's config holds no δ or ρ).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encodeIfPresent(lrSchedule, forKey: .lrSchedule)
        if method.takes(.momentum) { try c.encode(momentum, forKey: .momentum) }
        if method.takes(.movingRate) { try c.encode(movingRate, forKey: .movingRate) }
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(workers, forKey: .workers)
        if method.takes(.alpha) {
            try c.encodeIfPresent(alpha, forKey: .alpha)
            try c.encodeIfPresent(alphaFromBeta, forKey: .alphaFromBeta)
        }
        if method.takes(.tau) { try c.encodeIfPresent(tau, forKey: .tau) }
        if method.takes(.rho) { try c.encodeIfPresent(rho, forKey: .rho) }
        if method.takes(.outer) { try c.encodeIfPresent(outer, forKey: .outer) }
        try c.encodeIfPresent(compression, forKey: .compression)
        try c.encodeIfPresent(replyCompression, forKey: .replyCompression)
        try c.encode(net, forKey: .net)
        try c.encode(netSpec, forKey: .netSpec)
        try c.encode(data, forKey: .data)
        try c.encode(batch, forKey: .batch)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(initSeed, forKey: .initSeed)
        try c.encodeIfPresent(trainSubset, forKey: .trainSubset)
        try c.encodeIfPresent(fullBatch, forKey: .fullBatch)
        try c.encodeIfPresent(testSubset, forKey: .testSubset)
        try c.encodeIfPresent(convolutions, forKey: .convolutions)
        try c.encode(budget, forKey: .budget)
        try c.encodeIfPresent(evalEvery, forKey: .evalEvery)
        try c.encodeIfPresent(checkpointEveryMinutes, forKey: .checkpointEveryMinutes)
        try c.encodeIfPresent(sharpnessEvery, forKey: .sharpnessEvery)
        try c.encodeIfPresent(sharpnessOfWorkers, forKey: .sharpnessOfWorkers)
        try c.encodeIfPresent(threads, forKey: .threads)
        try c.encodeIfPresent(backend, forKey: .backend)
        try c.encodeIfPresent(simulatorOrder, forKey: .simulatorOrder)
        try c.encodeIfPresent(computeSeconds, forKey: .computeSeconds)
        try c.encodeIfPresent(communicationSeconds, forKey: .communicationSeconds)
        try c.encodeIfPresent(links, forKey: .links)
        try c.encodeIfPresent(mpiServers, forKey: .mpiServers)
        try c.encodeIfPresent(stepOffset, forKey: .stepOffset)
        try c.encodeIfPresent(changes, forKey: .changes)
    }

    /// A sequential run's settings as configs before 2026-12-05 held them.
    private init(legacySequential decoder: Decoder) throws {
        struct Legacy: Decodable {
            var net: String, netSpec: String, data: String
            var optimizer: OptimizerSettings
            var batch: Int, seed: UInt64, budget: Budget
            var evalEvery: Int?, checkpointEveryMinutes: Double, threads: Int, sharpnessEvery: Int?
            var trainSubset: Int?, fullBatch: Bool?, convolutions: [ConvolutionPath]?, changes: [SettingsChange]?
        }
        let l = try Legacy(from: decoder), o = l.optimizer
        self.init(method: o.method, learningRate: o.learningRate, momentum: o.momentum, movingRate: o.movingRate,
                  weightDecay: o.weightDecay, net: l.net, netSpec: l.netSpec, data: l.data, batch: l.batch, seed: l.seed,
                  budget: l.budget, evalEvery: l.evalEvery.map { .steps($0) }, checkpointEveryMinutes: l.checkpointEveryMinutes,
                  threads: l.threads, sharpnessEvery: l.sharpnessEvery, trainSubset: l.trainSubset, fullBatch: l.fullBatch)
        lrSchedule = o.schedule
        convolutions = l.convolutions
        changes = l.changes
    }

    /// A parallel run's settings as configs before 2026-12-05 held them (the method's in `engine`).
    private init(legacyParallel decoder: Decoder) throws {
        struct Engine: Decodable {
            var method: Algorithm, workers: Int, learningRate: Double, alpha: Double, tau: Int, momentum: Double
            var movingRate: Double, weightDecay: Double, rho: Double, schedule: LearningRateSchedule?
        }
        struct Legacy: Decodable {
            var engine: Engine
            var net: String, netSpec: String, data: String, batch: Int, seed: UInt64, backend: Backend
            var schedule: Schedule, computeSeconds: Double?, communicationSeconds: Double, links: ServerLinks?
            var steps: Int, evalEvery: EvaluationInterval, checkpointEveryMinutes: Double?
            var sharpnessEvery: Int?, sharpnessOfWorkers: Bool?, trainSubset: Int?, fullBatch: Bool?
            var beta: Double?, stepOffset: Int?, convolutions: [ConvolutionPath]?, mpiServers: Int?  // beta: alphaFromBeta
            var changes: [SettingsChange]?
        }
        let l = try Legacy(from: decoder), e = l.engine
        self.init(method: e.method, learningRate: e.learningRate, momentum: e.momentum, movingRate: e.movingRate,
                  weightDecay: e.weightDecay, net: l.net, netSpec: l.netSpec, data: l.data, batch: l.batch, seed: l.seed,
                  budget: Budget(steps: l.steps), evalEvery: l.evalEvery, checkpointEveryMinutes: l.checkpointEveryMinutes,
                  threads: nil, sharpnessEvery: l.sharpnessEvery, trainSubset: l.trainSubset, fullBatch: l.fullBatch)
        lrSchedule = e.schedule
        workers = e.workers
        alpha = e.alpha
        alphaFromBeta = l.beta
        tau = e.tau
        rho = e.rho
        sharpnessOfWorkers = l.sharpnessOfWorkers
        backend = l.backend
        simulatorOrder = l.schedule
        computeSeconds = l.computeSeconds
        communicationSeconds = l.communicationSeconds
        links = l.links
        mpiServers = l.mpiServers
        stepOffset = l.stepOffset
        convolutions = l.convolutions
        changes = l.changes
    }
}

extension RunSettings {
    /// Fixes, when a new run starts, the test images it evaluates and how often, and records both (config.json's
    /// `test_subset` and `eval_every`), so that a short run on a subset does not spend its time evaluating:
    /// - test images: `--test-subset M`, else all of them, except for a run on `--train-subset N`: the first
    ///   max(N, 1,000) (all when there are fewer);
    /// - cadence: `--eval-every`, else four per epoch (sequential) or eight per run (parallel), but no closer than
    ///   ⌈(E + 1,000)/B⌉ steps (in total over the workers) for E test images and batch B: an evaluation's forward
    ///   passes (E test images and the 1,000 training images of `train_loss`) then cost at most about a third of
    ///   the training between two, a step's forward and backward passes costing about three forward ones.
    /// A resumed run keeps what it recorded; one from before 2026-12-06 records neither, and keeps its rules then
    /// (the whole test set; four per epoch or its recorded interval).
    /// The test images the run evaluates: the first `testSubset` (all when nil); more than `data` holds is refused.
    public func evaluatedTestSet(_ data: DataSplit) throws -> Dataset {
        guard let m = testSubset else { return data.test }
        guard m <= data.test.count else { throw DataError("--test-subset \(m): \(data.test.name) has \(data.test.count) images") }
        return data.test.prefix(m)
    }

    public mutating func fixEvaluations(testImages available: Int, stepsPerEpoch: Int) {
        testSubset = testSubset ?? TrainingDefaults.testImages(trainSubset: trainSubset, available: available)
        guard evalEvery == nil else { return }
        let spacing = TrainingDefaults.evaluationSpacing(testImages: min(testSubset!, available), batch: batch)
        let planned = isParallel ? TrainingDefaults.parallelEvaluations(workers: workers, steps: steps)
                                 : max(1, stepsPerEpoch / TrainingDefaults.evaluationsPerEpoch)
        evalEvery = .steps(max(planned, spacing))
    }
}

/// Any key of a JSON object, to ask which schema it holds.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension RunSettings {
    /// The run's net with its convolutions' paths fixed: the recorded ones, or (a new run) the defaults now, which
    /// are then recorded.
    public mutating func fixingConvolutions() throws -> NetSpec {
        var spec = try NetSpec(parsing: netSpec)
        if convolutions == nil { convolutions = ConvolutionPath.defaults(spec) }
        spec.convolutionPaths = convolutions
        return spec
    }
}

extension RunSettings {
    /// The rules of single values, named as the command line names them; a nil value is not checked. The one
    /// statement of these rules: `train` checks its options with it, and a resume the saved settings (config.json
    /// may have been edited).
    public static func check(learningRate: Double? = nil, warmup: Int? = nil, momentum: Double? = nil, movingRate: Double? = nil,
                             weightDecay: Double? = nil, batch: Int? = nil, fullBatch: Bool = false, trainSubset: Int? = nil,
                             testSubset: Int? = nil,
                             epochs: Double? = nil, minutes: Double? = nil, steps: Int? = nil, evalEvery: EvaluationInterval? = nil,
                             checkpointEveryMinutes: Double? = nil, threads: Int? = nil, sharpnessEvery: Int? = nil,
                             workers: Int? = nil, tau: Int? = nil, alpha: Double? = nil, beta: Double? = nil,
                             computeSeconds: Double? = nil, communicationSeconds: Double? = nil) throws {
        var problems: [String?] = []
        func real(_ name: String, _ v: Double?, _ sign: Limits.Sign) { if let v { problems.append(Limits.problem(name, v, sign)) } }
        func whole(_ name: String, _ v: Int?, _ range: ClosedRange<Int>) { if let v { problems.append(Limits.problem(name, v, range)) } }
        func atMost(_ name: String, _ v: Double?, _ limit: Double) {
            if let v, v > limit { problems.append("\(name) must be at most \(Int(limit)) (got \(v))") }
        }
        real("--lr", learningRate, .positive)
        whole("--warmup", warmup, 0...Limits.steps.upperBound)
        if let momentum { problems.append(Limits.momentumProblem("--momentum", momentum)) }
        if let movingRate, !(movingRate.isFinite && movingRate > 0 && movingRate <= 1) {
            problems.append("--moving-rate must be in (0, 1] (got \(movingRate))")
        }
        real("--weight-decay", weightDecay, .nonNegative)
        whole("--batch", batch, fullBatch ? 1...Limits.trainSubset.upperBound : Limits.batch)
        whole("--train-subset", trainSubset, Limits.trainSubset)
        whole("--test-subset", testSubset, Limits.trainSubset)
        real("--epochs", epochs, .positive)
        atMost("--epochs", epochs, Limits.epochs)
        real("--minutes", minutes, .positive)
        atMost("--minutes", minutes, Limits.minutes)
        whole("--steps", steps, Limits.steps)
        if case .seconds(let s)? = evalEvery { real("--eval-every", s, .positive) }
        if case .steps(let n)? = evalEvery { whole("--eval-every", n, Limits.steps) }
        real("--checkpoint-every", checkpointEveryMinutes, .positive)
        whole("--threads", threads, Limits.threads)
        whole("--sharpness-every", sharpnessEvery, Limits.steps)
        whole("--workers", workers, Limits.trainingWorkers)
        whole("--tau", tau, Limits.trainingTau)
        real("--alpha", alpha, .nonNegative)
        if let alpha, alpha.isFinite, alpha > 1 { problems.append("--alpha must be at most 1 (got \(alpha))") }
        real("--beta", beta, .nonNegative)
        real("--compute-seconds", computeSeconds, .positive)
        real("--communication-seconds", communicationSeconds, .nonNegative)
        if let problem = problems.compactMap({ $0 }).first { throw SettingsError(problem) }
    }

    /// An outer step's rules: η_o positive and finite, β in [0, 1), a delay only for the synchronous rounds.
    public static func check(outer o: OuterSettings, method: Algorithm) throws {
        if let problem = Limits.problem("--outer-lr", o.learningRate, .positive) { throw SettingsError(problem) }
        if let problem = Limits.momentumProblem("--outer-momentum", o.momentum) { throw SettingsError(problem) }
        if o.delayed, !method.hasSynchronousMap {
            throw SettingsError("--outer-delay applies to \(Algorithm.names(where: \.hasSynchronousMap))'s synchronous rounds, not \(method.rawValue)")
        }
        if let problem = Limits.momentumProblem("--inner-momentum", o.innerMomentum) { throw SettingsError(problem) }
        if o.innerNesterov || o.keepsInnerVelocity, !method.hasSynchronousMap {
            throw SettingsError("--inner-momentum applies to \(Algorithm.names(where: \.hasSynchronousMap))'s workers, not \(method.rawValue)")
        }
        if o.keepsInnerVelocity, !o.innerNesterov { throw SettingsError("--keep-inner-velocity needs --inner-momentum δ > 0") }
    }

    /// Checks every value (`check`); a run's saved settings pass it before it resumes.
    public func validate() throws {
        if method.takes(.outer) {
            guard let outer else { throw SettingsError("a \(method.rawValue) run's config.json needs its outer step (\"outer\")") }
            try RunSettings.check(outer: outer, method: method)
        }
        try RunSettings.check(learningRate: learningRate, warmup: lrSchedule?.warmup, momentum: momentum, movingRate: movingRate,
                              weightDecay: weightDecay, batch: batch, fullBatch: fullBatch == true, trainSubset: trainSubset,
                              testSubset: testSubset,
                              epochs: budget.epochs, minutes: budget.minutes, steps: budget.steps, evalEvery: evalEvery,
                              checkpointEveryMinutes: checkpointEveryMinutes, threads: threads, sharpnessEvery: sharpnessEvery,
                              workers: workers, tau: tau, alpha: isParallel && method.takes(.alpha) ? alpha : nil,
                              computeSeconds: computeSeconds, communicationSeconds: communicationSeconds)
    }
}

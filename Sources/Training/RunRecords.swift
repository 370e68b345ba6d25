// What a run directory holds besides the checkpoint: config.json (every setting, the seed, versions),
// metrics.jsonl (one JSON object per evaluation) and metrics.csv (the same numbers as a table).
// Both metrics files are rewritten atomically at each evaluation, so they never hold half a line and
// always agree with each other.

import Records
import Foundation

public enum Toolkit {
    public static let version = "0.2.0"
}

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

/// One evaluation of the model. Each field has one meaning in sequential and parallel runs alike.
public struct MetricRecord: Equatable, Sendable {
    /// Steps so far (worker steps in total for parallel runs), the images they used, and the epochs those make.
    public var step: Int
    public var samples: Int
    public var epoch: Double
    /// Seconds of the run's clock (training only for sequential runs; virtual on the simulator), and since the
    /// run started.
    public var seconds: Double
    public var wallSeconds: Double
    /// The evaluated model's loss on a fixed training subset (the first 1,000 training images, centre crop,
    /// dropout off), comparable across evaluations and methods. Nil in records written before it existed.
    public var trainLoss: Double?
    /// The mean of the recent minibatch losses: since the previous evaluation (one worker), or the workers' last
    /// ones (p workers; stopped workers left out). Nil at the start.
    public var minibatchLoss: Double?
    public var testLoss: Double
    public var testError: Double
    /// Parallel runs: exchanges with the master so far, and seconds the workers spent communicating (summed).
    public var exchanges: Int?
    public var communicationSeconds: Double?
    /// Parallel runs: each worker's steps so far and its last minibatch loss (nil for a stopped worker).
    public var workerSteps: [Int]?
    public var workerLoss: [Double?]?
    /// Runs with `--sharpness-every`: h_max of the training loss at the evaluated model (NaN when the estimate
    /// was not finite, written null), the seconds the estimate took, and (parallel, `--sharpness-of workers`) each
    /// worker's. Nil in records without a measurement.
    public var sharpness: Double?
    public var sharpnessSeconds: Double?
    public var workerSharpness: [Double?]?

    /// The CSV header of a run's records; parallel runs add one column per worker, runs measuring sharpness
    /// its columns.
    static func csvHeader(workers: Int, sharpness: Bool = false, workerSharpness: Int = 0) -> [String] {
        ["step", "samples", "epoch", "seconds", "wall_seconds", "train_loss", "minibatch_loss", "test_loss", "test_error",
         "exchanges", "communication_seconds"]
            + (0..<workers).map { "worker_steps_\($0)" } + (0..<workers).map { "worker_loss_\($0)" }
            + (sharpness ? ["sharpness", "sharpness_seconds"] : []) + (0..<workerSharpness).map { "worker_sharpness_\($0)" }
    }

    private static func text(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "" } ?? "" }
    private static func json(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }

    var jsonLine: String {
        var line = "{\"step\":\(step),\"samples\":\(samples),\"epoch\":\(epoch),\"seconds\":\(seconds),"
            + "\"wall_seconds\":\(wallSeconds),\"train_loss\":\(Self.json(trainLoss)),\"minibatch_loss\":\(Self.json(minibatchLoss)),"
            + "\"test_loss\":\(Self.json(testLoss)),\"test_error\":\(Self.json(testError))"
        // A model that no longer evaluates to finite numbers: null above, and the record says why.
        if !testLoss.isFinite || !testError.isFinite { line += ",\"status\":\"diverged\"" }
        if let exchanges { line += ",\"exchanges\":\(exchanges)" }
        if let communicationSeconds { line += ",\"communication_seconds\":\(communicationSeconds)" }
        if let workerSteps { line += ",\"worker_steps\":[\(workerSteps.map(String.init).joined(separator: ","))]" }
        if let workerLoss { line += ",\"worker_loss\":[\(workerLoss.map { Self.json($0) }.joined(separator: ","))]" }
        if let sharpness { line += ",\"sharpness\":\(Self.json(sharpness))" }
        if let sharpnessSeconds { line += ",\"sharpness_seconds\":\(Self.json(sharpnessSeconds))" }
        if let workerSharpness { line += ",\"worker_sharpness\":[\(workerSharpness.map { Self.json($0) }.joined(separator: ","))]" }
        return line + "}"
    }

    func csvFields(workers: Int, sharpness withSharpness: Bool = false, workerSharpness sharpWorkers: Int = 0) -> [String] {
        let steps = (0..<workers).map { k in workerSteps.flatMap { k < $0.count ? String($0[k]) : nil } ?? "" }
        let losses = (0..<workers).map { k in workerLoss.flatMap { k < $0.count ? Self.text($0[k]) : nil } ?? "" }
        let sharp = withSharpness ? [Self.text(sharpness), Self.text(sharpnessSeconds)] : []
        let workerSharp = (0..<sharpWorkers).map { k in workerSharpness.flatMap { k < $0.count ? Self.text($0[k]) : nil } ?? "" }
        return ["\(step)", "\(samples)", "\(epoch)", "\(seconds)", "\(wallSeconds)", Self.text(trainLoss), Self.text(minibatchLoss),
                Self.text(testLoss), Self.text(testError), exchanges.map(String.init) ?? "", Self.text(communicationSeconds)]
            + steps + losses + sharp + workerSharp
    }

    /// Parses one metrics.jsonl line (also those of earlier versions, whose worker_loss was the workers' mean).
    init(jsonLine line: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw DataError("metrics.jsonl: unreadable line: \(line.prefix(80))")
        }
        // Numbers are re-read from their text: Foundation's parser can be off by an ulp.
        func number(_ key: String) throws -> Double {
            guard let v = object[key], let d = Double("\(v)") else { throw DataError("metrics.jsonl: missing \(key)") }
            return d
        }
        func optional(_ key: String) -> Double? { object[key].flatMap { $0 is NSNull ? nil : Double("\($0)") } }
        step = Int(try number("step"))
        samples = Int(try number("samples"))
        epoch = try number("epoch")
        seconds = try number("seconds")
        wallSeconds = try number("wall_seconds")
        trainLoss = optional("train_loss")
        minibatchLoss = optional("minibatch_loss")
        // null: the model did not evaluate to a finite number (the record's status says diverged).
        func measured(_ key: String) throws -> Double { object[key] is NSNull ? .nan : try number(key) }
        testLoss = try measured("test_loss")
        testError = try measured("test_error")
        exchanges = object["exchanges"].flatMap { Int("\($0)") }
        communicationSeconds = optional("communication_seconds")
        workerSteps = (object["worker_steps"] as? [Any])?.compactMap { Int("\($0)") }
        if let losses = object["worker_loss"] as? [Any] {
            workerLoss = losses.map { $0 is NSNull ? nil : Double("\($0)") }
        } else if let mean = optional("worker_loss") {
            minibatchLoss = minibatchLoss ?? mean
        }
        if let v = object["sharpness"] { sharpness = v is NSNull ? .nan : Double("\(v)") }
        sharpnessSeconds = optional("sharpness_seconds")
        workerSharpness = (object["worker_sharpness"] as? [Any])?.map { $0 is NSNull ? nil : Double("\($0)") }
    }

    public init(step: Int, samples: Int, epoch: Double, seconds: Double, wallSeconds: Double, trainLoss: Double?,
                minibatchLoss: Double?, testLoss: Double, testError: Double, exchanges: Int? = nil,
                communicationSeconds: Double? = nil, workerSteps: [Int]? = nil, workerLoss: [Double?]? = nil) {
        self.step = step
        self.samples = samples
        self.epoch = epoch
        self.seconds = seconds
        self.wallSeconds = wallSeconds
        self.trainLoss = trainLoss
        self.minibatchLoss = minibatchLoss
        self.testLoss = testLoss
        self.testError = testError
        self.exchanges = exchanges
        self.communicationSeconds = communicationSeconds
        self.workerSteps = workerSteps
        self.workerLoss = workerLoss
    }
}

/// How a run ended, as `status.json` records it. A run removes the file when it starts and writes it when it
/// stops, so a directory without one holds a run that is still going or was killed before it could say.
public struct RunStatus: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Every budget reached (parallel: every live worker took its steps).
        case completed
        /// Stopped by a signal after checkpointing, or (no status.json) killed or still running.
        case interrupted
        /// The loss or the parameters stopped being finite (parallel: every worker stopped).
        case diverged
    }
    public var state: State
    public var reason: String?

    public init(_ state: State, reason: String? = nil) {
        self.state = state
        self.reason = reason
    }

    public init(outcome: RunOutcome) {
        switch outcome {
        case .completed: self.init(State.completed)
        case .interrupted(let signal): self.init(State.interrupted, reason: "signal \(signal)")
        case .diverged(let step, let reason, _): self.init(State.diverged, reason: "step \(step): \(reason)")
        }
    }

    enum CodingKeys: String, CodingKey { case state = "status", reason }
}

public enum RunFiles {
    public static func config(_ dir: String) -> String { (dir as NSString).appendingPathComponent("config.json") }
    public static func status(_ dir: String) -> String { (dir as NSString).appendingPathComponent("status.json") }

    /// A directory holds a run once the run has written its first checkpoint; before that (a run that could not
    /// write one) it may be started anew.
    public static func holdsRun(_ dir: String) -> Bool { FileManager.default.fileExists(atPath: checkpoint(dir)) }

    /// Makes `dir` this process's for the run's life: creates it, takes its lock, refuses a new run where one
    /// already is, and removes what a killed writer left half-done. Sequential and parallel runs both start here.
    public static func claim(_ dir: String, resuming: Bool) throws -> DirectoryLock {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lock = try DirectoryLock(dir)
        if !resuming, holdsRun(dir) {
            throw SettingsError("\(dir) already holds a run: continue it with --resume, or choose another --out")
        }
        removeStaleTemporaries(dir)
        return lock
    }

    /// Removes what a killed writer left half-done (`*.tmp-PID` files and staged `.NAME.tmp-*` figures); called by
    /// a run that holds the directory's lock, so no other process is writing them.
    static func removeStaleTemporaries(_ dir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names where name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(name))
        }
    }

    /// Records how the run ended (atomically).
    public static func writeStatus(_ status: RunStatus, to dir: String) throws {
        var fields: [(String, JSON)] = [("status", .string(status.state.rawValue))]
        if let reason = status.reason { fields.append(("reason", .string(reason))) }
        try AtomicFile.write(try JSON.object(fields).render() + "\n", to: self.status(dir))
    }

    /// A run that starts or resumes has no outcome yet.
    public static func clearStatus(_ dir: String) throws {
        let path = status(dir)
        guard FileManager.default.fileExists(atPath: path) else { return }
        try FileManager.default.removeItem(atPath: path)
    }

    /// How the run in `dir` ended, or nil when it has not said (still running, killed, or written before status
    /// files existed).
    public static func readStatus(_ dir: String) throws -> RunStatus? {
        guard let data = FileManager.default.contents(atPath: status(dir)) else { return nil }
        do { return try JSONDecoder().decode(RunStatus.self, from: data) } catch {
            throw DataError("\(status(dir)): not a valid status file (\(DecodingProblem.describe(error)))")
        }
    }
    public static func checkpoint(_ dir: String) -> String { (dir as NSString).appendingPathComponent("checkpoint.bin") }
    public static func metricsJSONL(_ dir: String) -> String { (dir as NSString).appendingPathComponent("metrics.jsonl") }
    public static func metricsCSV(_ dir: String) -> String { (dir as NSString).appendingPathComponent("metrics.csv") }

    public static func writeMetrics(_ records: [MetricRecord], to dir: String) throws {
        try AtomicFile.write(records.map { $0.jsonLine + "\n" }.joined(), to: metricsJSONL(dir))
        let workers = records.map { $0.workerSteps?.count ?? 0 }.max() ?? 0
        let sharpness = records.contains { $0.sharpness != nil }
        let workerSharpness = records.map { $0.workerSharpness?.count ?? 0 }.max() ?? 0
        var csv = CSV(header: MetricRecord.csvHeader(workers: workers, sharpness: sharpness, workerSharpness: workerSharpness))
        for r in records { csv.row(r.csvFields(workers: workers, sharpness: sharpness, workerSharpness: workerSharpness)) }
        try AtomicFile.write(csv.text, to: metricsCSV(dir))
    }

    /// The records of a run directory (metrics.jsonl).
    public static func readMetrics(_ dir: String) throws -> [MetricRecord] {
        let path = metricsJSONL(dir)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DataError("\(path): cannot read (is \(dir) a training run directory?)")
        }
        return try text.split(separator: "\n").map { try MetricRecord(jsonLine: String($0)) }
    }

    /// Refuses a checkpoint that names another run than the config.json beside it (a run id missing on either side
    /// is a run written before run ids, and passes). The one binding check of sequential and parallel resumes.
    /// `runDirectory`: the run the checkpoint is read for (default: the checkpoint's own directory).
    public static func checkBinding(checkpointRunID: String?, configRunID: String?, checkpoint path: String,
                                    runDirectory: String? = nil) throws {
        guard let mine = configRunID, let theirs = checkpointRunID, mine != theirs else { return }
        let config = config(runDirectory ?? (path as NSString).deletingLastPathComponent)
        throw DataError("\(path) belongs to another run (run id \(theirs)), not to the run in \(config) (\(mine))")
    }

    /// The run id in config.json (nil for runs written before run ids existed).
    public static func readRunID(_ dir: String) -> String? {
        struct IDOnly: Codable { var runID: String? }
        return FileManager.default.contents(atPath: config(dir)).flatMap { try? JSONDecoder().decode(IDOnly.self, from: $0) }?.runID
    }

    /// The settings of a run directory (config.json).
    public static func readSettings(_ dir: String) throws -> TrainingSettings {
        let path = config(dir)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError("\(path): cannot read (is \(dir) a training run directory?)")
        }
        do {
            // Only the settings are needed; the descriptive fields may differ between versions.
            struct SettingsOnly: Codable { var settings: TrainingSettings }
            return try JSONDecoder().decode(SettingsOnly.self, from: data).settings
        } catch {
            throw DataError("\(path): not a valid run configuration (\(DecodingProblem.describe(error)))")
        }
    }
}

/// config.json: the settings plus what is needed to know what ran.
struct RunConfig: Codable {
    var settings: TrainingSettings
    /// Binds the run's checkpoints to it (nil in configs written before run ids existed).
    var runID: String?
    var toolkit: String
    var openblas: String
    var data: DataDescription
    var model: ModelDescription
    var written: String

    struct DataDescription: Codable {
        var format: String
        var source: String
        var train: Int
        var test: Int
        var storedShape: [Int]
        var inputShape: [Int]
        var preprocessing: String
        var channelMean: [Float]
    }

    struct ModelDescription: Codable {
        var parameters: Int
        var forwardMFLOPPerImage: Double
    }
}

// What a run directory holds besides the checkpoint: config.json (every setting, the seed, versions),
// metrics.jsonl (one JSON object per evaluation) and metrics.csv (the same numbers as a table).
// Both metrics files are rewritten atomically at each evaluation, so they never hold half a line and
// always agree with each other.

import Records
import Foundation

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
        let rate = records.contains { $0.learningRate != nil }
        let bytes = records.contains { $0.bytesSent != nil }
        var csv = CSV(header: MetricRecord.csvHeader(workers: workers, sharpness: sharpness, workerSharpness: workerSharpness, learningRate: rate,
                                                     bytes: bytes))
        for r in records {
            csv.row(r.csvFields(workers: workers, sharpness: sharpness, workerSharpness: workerSharpness, learningRate: rate, bytes: bytes))
        }
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
        struct IDOnly: Codable { var runID: String?; enum CodingKeys: String, CodingKey { case runID = "runId" } }
        return FileManager.default.contents(atPath: config(dir)).flatMap { try? configDecoder.decode(IDOnly.self, from: $0) }?.runID
    }

    /// The run directories `path` names: itself when it holds a run (config.json), else every directory below it
    /// that does (to `depth` levels, in name order, not descending into runs), so `easgd runs runs/` finds them.
    public static func runDirectories(_ path: String, depth: Int = 4) -> [String] {
        if FileManager.default.fileExists(atPath: config(path)) { return [path] }
        guard depth > 0, let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        return names.sorted().flatMap { name -> [String] in
            var isDirectory: ObjCBool = false
            let child = (path as NSString).appendingPathComponent(name)
            guard !name.hasPrefix("."), FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
            return runDirectories(child, depth: depth - 1)
        }
    }

    /// The configuration of a run directory (config.json), written by this build or an earlier one.
    public static func readConfig(_ dir: String) throws -> RunConfig {
        let path = config(dir)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError("\(path): cannot read (is \(dir) a training run directory?)")
        }
        do {
            return try configDecoder.decode(RunConfig.self, from: data)
        } catch {
            throw DataError("\(path): not a valid run configuration (\(DecodingProblem.describe(error)))")
        }
    }

    /// The settings of a run directory (config.json).
    public static func readSettings(_ dir: String) throws -> RunSettings { try readConfig(dir).settings }

    /// Writes config.json (whole or not at all).
    public static func writeConfig(_ config: RunConfig, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try AtomicFile.write(try configEncoder.encode(config), to: RunFiles.config(dir))
    }

    /// config.json's encoder: snake_case keys, sorted.
    public static var configEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    /// config.json's decoder: today's snake_case keys, and the camelCase ones of configs written before
    /// 2026-12-06 with the three settings (and one change) named otherwise then.
    public static var configDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in AnyKey(configKey(path)) }
        return decoder
    }

    /// The Swift name of config.json's key at `path`: snake_case to camelCase ("learning_rate" to
    /// "learningRate"; camelCase stays), then the renamed keys of earlier configs under their names today.
    static func configKey(_ path: [CodingKey]) -> String {
        let key = path.last!.stringValue
        let parts = key.split(separator: "_", omittingEmptySubsequences: false)
        var name = parts.count < 2 ? key : String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        name = ["runID": "runId", "forwardMflopPerImage": "forwardMFLOPPerImage"][name] ?? name
        // The object holding the key (array indices skipped): the renames apply to the settings and their changes.
        let parent = path.dropLast().last(where: { $0.intValue == nil })?.stringValue
        switch parent {
        case "settings": name = ["learningRate": "eta", "lrSchedule": "etaSchedule", "alphaFromBeta": "beta"][name] ?? name
        case "changes": name = ["learningRate": "eta", "lrSchedule": "etaSchedule", "atStep": "atTotalSteps"][name] ?? name
        case "budget": name = name == "steps" ? "stepsPerWorker" : name
        default: break
        }
        return name
    }
}

/// config.json: the settings plus what is needed to know what ran. One schema for every run; the descriptive
/// fields are optional, as configs of earlier builds lack some of them.
public struct RunConfig: Codable, Sendable {
    enum CodingKeys: String, CodingKey { case settings, runID = "runId", measuredComputeSeconds, toolkit, openblas, data, model, written }
    public var settings: RunSettings
    /// Binds the run's checkpoints to it (nil in configs written before run ids existed).
    public var runID: String?
    /// The simulated backend's compute cost per step, when it was measured on the machine.
    public var measuredComputeSeconds: Double?
    public var toolkit: String?
    public var openblas: String?
    public var data: DataDescription?
    public var model: ModelDescription?
    public var written: String?

    public init(settings: RunSettings, runID: String?, measuredComputeSeconds: Double? = nil, data: DataDescription? = nil,
                model: ModelDescription? = nil) {
        self.settings = settings
        self.runID = runID
        self.measuredComputeSeconds = measuredComputeSeconds
        toolkit = Toolkit.version
        openblas = ComputeThreads.blasConfiguration
        self.data = data
        self.model = model
        written = ISO8601DateFormatter().string(from: Date())
    }

    public struct DataDescription: Codable, Sendable {
        var format: String
        var source: String
        var train: Int
        var test: Int
        var storedShape: [Int]
        var inputShape: [Int]
        var preprocessing: String
        var channelMean: [Float]

        /// The data a run trains on, as loaded and preprocessed for its net.
        public init(_ data: DataSplit, input: Shape, preprocessing: Preprocessing) {
            format = data.format
            source = data.source
            train = data.train.count
            test = data.test.count
            storedShape = [data.train.shape.channels, data.train.shape.height, data.train.shape.width]
            inputShape = [input.channels, input.height, input.width]
            let mean = preprocessing.meanFromData ? "the per-channel training mean computed at import" : "the per-channel training mean"
            self.preprocessing = preprocessing.crops
                ? "pixels/255 minus \(mean); random crop + horizontal flip (train), centre crop (test)"
                : "pixels/255 minus \(mean)"
            channelMean = preprocessing.mean
        }
    }

    public struct ModelDescription: Codable, Sendable {
        var parameters: Int
        var forwardMFLOPPerImage: Double

        public init(parameters: Int, forwardFlopsPerImage: Int) {
            self.parameters = parameters
            forwardMFLOPPerImage = Double(forwardFlopsPerImage) / 1e6
        }
    }
}

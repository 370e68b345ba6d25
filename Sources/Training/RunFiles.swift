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
        var csv = CSV(header: MetricRecord.csvHeader(workers: workers, sharpness: sharpness, workerSharpness: workerSharpness, learningRate: rate))
        for r in records { csv.row(r.csvFields(workers: workers, sharpness: sharpness, workerSharpness: workerSharpness, learningRate: rate)) }
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

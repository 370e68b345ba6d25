// One evaluation of a run's model, as metrics.jsonl and metrics.csv hold it.

import Records
import Foundation

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
    /// Parallel runs: bytes the workers sent to the master and received from it so far (summed): each exchange's
    /// message through the run's codec (Float32 without one) and the Float32 answer. Nil in records before 2026-12-06.
    public var bytesSent: Int?
    public var bytesReceived: Int?
    /// Parallel runs: each worker's steps so far and its last minibatch loss (nil for a stopped worker).
    public var workerSteps: [Int]?
    public var workerLoss: [Double?]?
    /// Runs with `--sharpness-every`: h_max of the training loss at the evaluated model (NaN when the estimate
    /// was not finite, written null), the seconds the estimate took, and (parallel, `--sharpness-of workers`) each
    /// worker's. Nil in records without a measurement.
    public var sharpness: Double?
    public var sharpnessSeconds: Double?
    public var workerSharpness: [Double?]?
    /// The learning rate in force after this record: the rate of the next step (a parallel run's at the workers'
    /// mean clock), its schedule and plateau scale included. Nil in records written before it was recorded.
    public var learningRate: Double?

    /// The CSV header of a run's records; parallel runs add one column per worker, runs measuring sharpness
    /// its columns.
    static func csvHeader(workers: Int, sharpness: Bool = false, workerSharpness: Int = 0, learningRate: Bool = false, bytes: Bool = false) -> [String] {
        ["total_steps", "samples", "epoch", "seconds", "wall_seconds", "train_loss", "minibatch_loss", "test_loss", "test_error",
         "exchanges", "communication_seconds"]
            + (0..<workers).map { "worker_steps_\($0)" } + (0..<workers).map { "worker_loss_\($0)" }
            + (sharpness ? ["sharpness", "sharpness_seconds"] : []) + (0..<workerSharpness).map { "worker_sharpness_\($0)" }
            + (learningRate ? ["eta"] : []) + (bytes ? ["bytes_sent", "bytes_received"] : [])
    }

    private static func text(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "" } ?? "" }
    private static func json(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }

    var jsonLine: String {
        var line = "{\"total_steps\":\(step),\"samples\":\(samples),\"epoch\":\(epoch),\"seconds\":\(seconds),"
            + "\"wall_seconds\":\(wallSeconds),\"train_loss\":\(Self.json(trainLoss)),\"minibatch_loss\":\(Self.json(minibatchLoss)),"
            + "\"test_loss\":\(Self.json(testLoss)),\"test_error\":\(Self.json(testError))"
        // A model that no longer evaluates to finite numbers: null above, and the record says why.
        if !testLoss.isFinite || !testError.isFinite { line += ",\"status\":\"diverged\"" }
        if let exchanges { line += ",\"exchanges\":\(exchanges)" }
        if let communicationSeconds { line += ",\"communication_seconds\":\(communicationSeconds)" }
        if let bytesSent { line += ",\"bytes_sent\":\(bytesSent)" }
        if let bytesReceived { line += ",\"bytes_received\":\(bytesReceived)" }
        if let workerSteps { line += ",\"worker_steps\":[\(workerSteps.map(String.init).joined(separator: ","))]" }
        if let workerLoss { line += ",\"worker_loss\":[\(workerLoss.map { Self.json($0) }.joined(separator: ","))]" }
        if let sharpness { line += ",\"sharpness\":\(Self.json(sharpness))" }
        if let sharpnessSeconds { line += ",\"sharpness_seconds\":\(Self.json(sharpnessSeconds))" }
        if let workerSharpness { line += ",\"worker_sharpness\":[\(workerSharpness.map { Self.json($0) }.joined(separator: ","))]" }
        if let learningRate { line += ",\"eta\":\(Self.json(learningRate))" }
        return line + "}"
    }

    func csvFields(workers: Int, sharpness withSharpness: Bool = false, workerSharpness sharpWorkers: Int = 0,
                   learningRate withRate: Bool = false, bytes withBytes: Bool = false) -> [String] {
        let steps = (0..<workers).map { k in workerSteps.flatMap { k < $0.count ? String($0[k]) : nil } ?? "" }
        let losses = (0..<workers).map { k in workerLoss.flatMap { k < $0.count ? Self.text($0[k]) : nil } ?? "" }
        let sharp = withSharpness ? [Self.text(sharpness), Self.text(sharpnessSeconds)] : []
        let workerSharp = (0..<sharpWorkers).map { k in workerSharpness.flatMap { k < $0.count ? Self.text($0[k]) : nil } ?? "" }
        return ["\(step)", "\(samples)", "\(epoch)", "\(seconds)", "\(wallSeconds)", Self.text(trainLoss), Self.text(minibatchLoss),
                Self.text(testLoss), Self.text(testError), exchanges.map(String.init) ?? "", Self.text(communicationSeconds)]
            + steps + losses + sharp + workerSharp + (withRate ? [Self.text(learningRate)] : [])
            + (withBytes ? [bytesSent.map(String.init) ?? "", bytesReceived.map(String.init) ?? ""] : [])
    }

    /// Parses one metrics.jsonl line (also those of earlier versions: their worker_loss was the workers' mean, and
    /// before 2026-12-06 `total_steps` was `step` and `eta` was `lr`).
    public init(jsonLine line: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw DataError("metrics.jsonl: unreadable line: \(line.prefix(80))")
        }
        // Numbers are re-read from their text: Foundation's parser can be off by an ulp.
        func number(_ key: String) throws -> Double {
            guard let v = object[key], let d = Double("\(v)") else { throw DataError("metrics.jsonl: missing \(key)") }
            return d
        }
        func optional(_ key: String) -> Double? { object[key].flatMap { $0 is NSNull ? nil : Double("\($0)") } }
        step = Int(try number(object["total_steps"] == nil ? "step" : "total_steps"))
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
        bytesSent = object["bytes_sent"].flatMap { Int("\($0)") }
        bytesReceived = object["bytes_received"].flatMap { Int("\($0)") }
        workerSteps = (object["worker_steps"] as? [Any])?.compactMap { Int("\($0)") }
        if let losses = object["worker_loss"] as? [Any] {
            workerLoss = losses.map { $0 is NSNull ? nil : Double("\($0)") }
        } else if let mean = optional("worker_loss") {
            minibatchLoss = minibatchLoss ?? mean
        }
        if let v = object["sharpness"] { sharpness = v is NSNull ? .nan : Double("\(v)") }
        sharpnessSeconds = optional("sharpness_seconds")
        workerSharpness = (object["worker_sharpness"] as? [Any])?.map { $0 is NSNull ? nil : Double("\($0)") }
        learningRate = optional("eta") ?? optional("lr")
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

// `easgd advise`: a training run of any method and backend placed on its stability map. The top Hessian
// eigenvalue h_max of the run's loss at its model (the sequential iterate or average; a parallel run's center,
// and optionally each worker), by Lanczos on Hessian-vector products; the map's coordinate ηh_max with
// the run's α, τ, p and δ; the predicted spectral radius of the method's map on the top direction (round-robin,
// and for the round-map methods also random order in mean square); the threshold h* where it crosses 1; the
// margins on η, α and τ. PREFIX.csv and PREFIX.png draw the run on its map: the (η, α) or (η, τ) map at h_max
// with the run marked, or the radius against ηh where the map has one axis.

import Dynamics
import Elastic
import Engine
import Foundation
import Plotting
import Records
import Training

/// Where a parallel run's curvature is estimated.
public enum AdvicePoint: String, CaseIterable, Sendable {
    /// The center (the master's parameters).
    case center
    /// The center and every worker's parameters.
    case workers
}

public struct Advice {
    public var runDirectory: String
    /// A checkpoint to use instead of RUN_DIR/checkpoint.bin.
    public var checkpoint: String?
    public var batch: Int
    public var tolerance: Double
    public var maxIterations: Int
    public var at: AdvicePoint

    public init(runDirectory: String, checkpoint: String?, batch: Int, tolerance: Double, maxIterations: Int, at: AdvicePoint = .center) {
        self.runDirectory = runDirectory
        self.checkpoint = checkpoint
        self.batch = batch
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.at = at
    }

    /// What the map needs of a run, whichever kind it is.
    struct RunPoint {
        var method: Algorithm
        var workers: Int
        /// The rate in force at the checkpoint (the schedule's), and the run's base η.
        var lr: Double
        var baseLR: Double
        var alpha: Double?
        var tau: Int?
        var momentum: Double?
        /// DiLoCo's outer step.
        var outer: OuterSettings? = nil
        var weightDecay: Double
        var netSpec: String
        var data: String
        /// The models whose curvature is estimated, by name ("model", "center", "worker 0", …).
        var models: [(name: String, values: [Float])]
        /// The run's training data: its subset and seed, and whether it trained on the full batch (then the
        /// curvature is that of the full-batch loss).
        var trainSubset: Int?
        var fullBatch: Bool
        var seed: UInt64
        /// The schedule the map is taken for (a simulated round-robin run's own; otherwise round-robin as the
        /// reference, asynchronous runs having no fixed order).
        var runSchedule: Schedule?
    }

    func readRun() throws -> RunPoint {
        let path = checkpoint ?? RunFiles.checkpoint(runDirectory)
        let config = try RunFiles.readConfig(runDirectory)
        if config.settings.isParallel {
            let s = config.settings, e = s.engine
            let (state, buffers) = try Checkpoint.read(path, as: ParallelCheckpointClock.self)
            // The curvature is read at this run's settings: a checkpoint of another run (even of the same net) is refused.
            try RunFiles.checkBinding(checkpointRunID: state.runID, configRunID: config.runID, checkpoint: path, runDirectory: runDirectory)
            var models: [(String, [Float])] = []
            guard let center = buffers["center"] else { throw SettingsError("\(path) holds no 'center' buffer (not a parallel run's checkpoint)") }
            models.append(("center", center))
            if at == .workers {
                for i in 0..<e.workers {
                    guard let x = buffers["w\(i).x"] else { throw SettingsError("\(path) holds no parameters of worker \(i)") }
                    models.append(("worker \(i)", x))
                }
            }
            let m = e.method
            var point = RunPoint(method: m, workers: e.workers, lr: try rateInForce(records: state.metricsCount) ?? e.learningRate, baseLR: e.learningRate,
                            alpha: m.takes(.alpha) ? e.alpha : nil, tau: m.takes(.tau) ? e.tau : nil,
                            momentum: m.takes(.momentum) ? e.momentum : nil, weightDecay: e.weightDecay,
                            netSpec: s.netSpec, data: s.data, models: models,
                            trainSubset: s.trainSubset, fullBatch: s.fullBatch == true, seed: s.seed,
                            runSchedule: s.backend == .simulated ? s.simulatorOrder ?? .clock : nil)
            point.outer = m.takes(.outer) ? e.outer : nil
            return point
        }
        let settings = config.settings
        let (state, buffers) = try Checkpoint.read(path, as: CheckpointStep.self)
        try RunFiles.checkBinding(checkpointRunID: state.runID, configRunID: config.runID, checkpoint: path,
                                   runDirectory: runDirectory)
        let method = settings.optimizer.method
        let name = SequentialOptimizer.evaluatedBuffer(method)
        guard let model = buffers[name] else { throw SettingsError("\(path) holds no '\(name)' buffer (not a sequential run's checkpoint)") }
        return RunPoint(method: method, workers: 1, lr: try rateInForce(records: state.metricsCount) ?? settings.optimizer.learningRate,
                        baseLR: settings.optimizer.learningRate, alpha: nil, tau: nil,
                        momentum: method.takes(.momentum) ? settings.momentum : nil, weightDecay: settings.weightDecay,
                        netSpec: settings.netSpec, data: settings.data, models: [(method.evaluatesAverage ? "average" : "model", model)],
                        trainSubset: settings.trainSubset, fullBatch: settings.fullBatch == true, seed: settings.seed, runSchedule: nil)
    }

    /// The learning rate in force at the checkpoint, its schedule's and plateau's: the last of the records it
    /// counts that says (nil: records written before they did, so the config's constant η).
    func rateInForce(records count: Int?) throws -> Double? {
        guard FileManager.default.fileExists(atPath: RunFiles.metricsJSONL(runDirectory)) else { return nil }
        let records = try RunFiles.readMetrics(runDirectory)
        return records.prefix(count ?? records.count).last(where: { $0.learningRate != nil })?.learningRate
    }

    /// h_max at the run's model (a sequential run's iterate or average, a parallel run's center).
    public func curvatureAtModel() throws -> Double {
        let run = try readRun()
        let loss = try trainingLoss(of: run)
        let estimate = loss.topEigenvalue(at: run.models[0].values.map(Double.init), tolerance: tolerance, maxIterations: maxIterations)
        guard estimate.topEigenvalue.isFinite else { throw OutputError("the curvature at the model of \(runDirectory) is not finite") }
        return estimate.topEigenvalue
    }

    /// The run's training loss as a deterministic function: on its first `batch` training images (of its
    /// subset), or for a full-batch run on the whole subset it trained on, whatever --batch says.
    func trainingLoss(of run: RunPoint) throws -> FixedBatchLoss {
        let spec = try NetSpec(parsing: run.netSpec)
        let data = try DataSource.load(run.data).trainSubset(run.trainSubset, seed: run.seed)
        let preprocessing = try Preprocessing(train: data.train, input: spec.input)
        return FixedBatchLoss(spec: spec, train: data.train, preprocessing: preprocessing, weightDecay: run.weightDecay,
                              fullBatch: run.fullBatch, batch: batch)
    }

    /// One model's place on the map.
    struct Placement {
        var name: String
        var hMax: Double
        var products: Int
        var converged: Bool
        var etaH: Double
        var radius: Double
        var stable: Bool
    }

    /// The report's lines, its JSON, the data files written, and the figure's warning if gnuplot could not draw it.
    public func estimate(prefix: String) throws -> (lines: [String], json: JSON, files: [String], warning: String?) {
        let run = try readRun()
        guard run.method.trainsNetworks else { throw SettingsError("\(run.method.rawValue) does not train a network") }
        ComputeThreads.set(ProcessInfo.processInfo.activeProcessorCount)
        let loss = try trainingLoss(of: run)
        let schedule: Schedule = run.runSchedule == .random && run.method.hasRandomOrderMap ? .random : .roundRobin
        let threshold = MethodThreshold(method: run.method, workers: run.workers, alpha: run.alpha ?? 0, tau: run.tau ?? 1,
                                        momentum: run.momentum ?? 0, schedule: schedule, outer: run.outer)
        var placements: [Placement] = []
        for (name, values) in run.models {
            guard values.count == loss.network.parameterCount else {
                throw SettingsError("the checkpoint's \(name) has \(values.count) parameters, the run's net has \(loss.network.parameterCount)")
            }
            let estimate = loss.topEigenvalue(at: values.map(Double.init), tolerance: tolerance, maxIterations: maxIterations)
            let hMax = estimate.topEigenvalue
            guard hMax.isFinite else { throw OutputError("the curvature estimate at \(name.hasPrefix("worker") ? name : "the " + name) is not finite (the model may have diverged)") }
            let e = run.lr * max(hMax, 0)
            let radius = try threshold.radius(etaH: e)
            guard radius.isFinite else { throw OutputError("the spectral radius at ηh = \(e) is not finite") }
            placements.append(Placement(name: name, hMax: hMax, products: estimate.products, converged: estimate.converged,
                                        etaH: e, radius: radius, stable: try threshold.isStable(etaH: e)))
        }
        let main = placements[0]
        let critical = try threshold.criticalEtaH()
        let alphaRange = try threshold.alphaInterval(etaH: main.etaH)
        let tauMax = try threshold.largestTau(etaH: main.etaH)
        // Random order in mean square, for the methods with a round map (the run's own schedule is one of the two).
        var random: (radius: Double, stable: Bool, critical: Double?)? = nil
        if run.method.hasRandomOrderMap || [.adownpour, .mvadownpour].contains(run.method) {
            var other = threshold
            other.schedule = schedule == .random ? .roundRobin : .random
            random = (try other.radius(etaH: main.etaH), try other.isStable(etaH: main.etaH), try other.criticalEtaH())
        }

        let transaction = OutputTransaction()
        let (files, warning) = try stageRunFigure(run: run, main: main, threshold: threshold, critical: critical, prefix: prefix, transaction: transaction)
        try transaction.commit()

        // JSON: the run's coordinates under the toolkit's keys, then the verdict and the margins.
        func optional(_ v: Double?) -> JSON { v.map { $0.isFinite ? .number($0) : .null } ?? .null }
        let hStar = critical.map { $0 / run.lr }
        let etaMax = critical.flatMap { main.hMax > 0 ? $0 / main.hMax : nil }
        var fields: [(String, JSON)] = [
            ("method", .string(run.method.rawValue)), ("workers", .integer(run.workers)),
            ("tau", run.tau.map { .integer($0) } ?? .null), ("eta", .number(run.lr)), ("momentum", optional(run.momentum)),
            ("alpha", optional(run.alpha)),
            ("outer", run.outer.map { .string($0.optimizer.rawValue) } ?? .null), ("outer_eta", optional(run.outer?.learningRate)),
            ("outer_momentum", optional(run.outer.flatMap { $0.keepsVelocity ? $0.momentum : nil })),
            ("weight_decay", .number(run.weightDecay)),
            ("schedule", .string(run.workers == 1 ? "sequential" : schedule.rawValue)), ("map", .string(threshold.mapName)),
            ("at", .string(main.name)), ("batch", .integer(loss.count)),
            ("h_max", .number(main.hMax)), ("hessian_vector_products", .integer(main.products)), ("converged", .bool(main.converged)),
            ("eta_h", .number(main.etaH)), ("spectral_radius", .number(main.radius)), ("stable", .bool(main.stable)),
            ("critical_eta_h", optional(critical)), ("h_star", optional(hStar)),
            ("margin", .object([
                ("eta_factor", optional(critical.flatMap { main.etaH > 0 ? $0 / main.etaH : nil })),
                ("eta_max", optional(etaMax)),
                ("alpha_min", optional(alphaRange?.lowerBound)), ("alpha_max", optional(alphaRange?.upperBound)),
                ("tau_max", tauMax.map { .integer($0) } ?? .null),
            ])),
        ]
        if let random {
            fields.append((schedule == .random ? "round_robin" : "random_order", .object([
                ("spectral_radius", .number(random.radius)), ("stable", .bool(random.stable)),
                ("h_star", optional(random.critical.map { $0 / run.lr })),
            ])))
        }
        if placements.count > 1 {
            fields.append(("workers_at", .array(placements.dropFirst().map { p in
                .object([("at", .string(p.name)), ("h_max", .number(p.hMax)), ("converged", .bool(p.converged)),
                         ("eta_h", .number(p.etaH)), ("spectral_radius", .number(p.radius)), ("stable", .bool(p.stable))])
            })))
        }

        var settings = [run.lr == run.baseLR ? "η = \(run.lr)" : "η = \(run.lr) (in force at the checkpoint; base η = \(run.baseLR))"]
        if let a = run.alpha { settings.append("α = \(a)") }
        if let t = run.tau { settings.append("τ = \(t)") }
        if let d = run.momentum { settings.append("δ = \(d)") }
        if let o = run.outer { settings.append("outer \(o.optimizer.rawValue) η_o = \(o.learningRate)" + (o.keepsVelocity ? ", β = \(o.momentum)" : "")) }
        settings += ["p = \(run.workers)", "weight decay \(run.weightDecay)"]
        var lines = ["run: \(run.method.rawValue), " + settings.joined(separator: ", ")]
        for p in placements {
            lines.append("h_max at \(p.name.hasPrefix("worker") ? p.name : "the " + p.name) = \(try number(p.hMax)) (top Hessian eigenvalue; batch \(loss.count), dropout off, \(p.products) Hessian-vector products, \(p.converged ? "converged to \(tolerance)" : "NOT converged"))"
                         + (p.name == main.name ? "" : ": ηh_max = \(try number(p.etaH)), radius \(try number(p.radius)) (\(p.stable ? "stable" : "unstable"))"))
        }
        lines.append("map: \(threshold.mapName); coordinates ηh_max = \(try number(main.etaH))" + settings.dropFirst().dropLast().map { ", " + $0 }.joined())
        lines.append("predicted spectral radius on the top direction: \(try number(main.radius)) (\(main.stable ? "stable" : "unstable"))")
        if let random {
            lines.append("\(schedule == .random ? "round-robin" : "random order (mean square per round)"): radius \(try number(random.radius)) (\(random.stable ? "stable" : "unstable"))"
                         + (random.critical.map { ", h* = \(String(format: "%.6g", $0 / run.lr))" } ?? ""))
        }
        if let critical, let hStar {
            var margin = "margin: the boundary is at ηh = \(try number(critical)) (h* = \(try number(hStar)) at this η)"
            if let etaMax { margin += ", η up to \(try number(etaMax)) (×\(String(format: "%.3g", critical / main.etaH)) the run's η)" }
            lines.append(margin)
        } else {
            lines.append("margin: the map stays stable up to ηh = 10⁴: no curvature limit on η at these settings")
        }
        if let alphaRange { lines.append("α may range over [\(String(format: "%.6g", alphaRange.lowerBound)), \(String(format: "%.6g", alphaRange.upperBound))] at this ηh_max") }
        if let tauMax { lines.append("τ may rise to \(tauMax)\(tauMax == 1024 ? " (the largest probed)" : "") at this ηh_max") }
        return (lines, .object(fields), files, warning)
    }

    /// The run on its map: (η, α) or (η, τ) at h = h_max with the run marked where the method has a 2-D round
    /// map; the radius against ηh with the run marked otherwise.
    func stageRunFigure(run: RunPoint, main: Placement, threshold: MethodThreshold, critical: Double?, prefix: String,
                     transaction: OutputTransaction) throws -> (files: [String], warning: String?) {
        let h = max(main.hMax, 1e-12)
        let mapMethod: Algorithm? = switch run.method {
        case .easgd, .eamsgd: run.method
        case .downpour, .adownpour, .mvadownpour: .downpour
        default: nil
        }
        if let mapMethod, run.workers > 1 {
            let tau = run.tau ?? 1
            let second = mapMethod == .downpour ? GridAxis(1...Double(max(64, 4 * tau)), count: 48)
                                                : GridAxis(0.005...max(1, 1.5 * (run.alpha ?? 0)), count: 60)
            let spec = StabilityMapSpec(method: mapMethod, workers: run.workers, h: h,
                                        eta: GridAxis(run.lr / 100...run.lr * 100, count: 80, logarithmic: true),
                                        second: second, secondKind: mapMethod == .downpour ? .tau : .alpha,
                                        momentum: run.momentum ?? 0, tau: tau, schedule: threshold.schedule)
            let computed = try computeMap(spec)
            var panel = try stageMapData(computed, prefix: prefix, transaction: transaction)
            let y = mapMethod == .downpour ? Double(tau) : run.alpha ?? 0
            panel.markers = [(run.lr, y, "this run: {/Symbol h} = \(run.lr), h_{max} = \(String(format: "%.4g", main.hMax)), radius \(String(format: "%.3g", main.radius))")]
            var settings = ["p = \(run.workers)", "\(threshold.schedule == .random ? "random order" : "round-robin")"]
            if mapMethod != .downpour && tau != 1 { settings.append("{/Symbol t} = \(tau)") }
            if let d = run.momentum { settings.append("{/Symbol d} = \(d)") }
            panel.title = "\(run.method.rawValue) run on \(mapMethod.name)'s map at h = h_{max} = \(String(format: "%.4g", main.hMax)) (\(settings.joined(separator: ", ")))"
            return ([prefix + ".csv", prefix + "-boundary.csv"], stageFigure(prefix + ".png", transaction: transaction) {
                HeatMap.script(panels: [panel], columns: 1, output: $0, terminal: .png)
            })
        }
        var csv = CSV(header: ["eta_h", "spectral_radius"])
        let top = max(3.0, 1.3 * max(main.etaH, critical ?? 0))
        var largest = 0.0
        for k in 0...600 {
            let x = top * Double(k) / 600, r = try threshold.radius(etaH: x)
            largest = max(largest, r)
            try csv.row([x, r])
        }
        let csvTemporary = try transaction.write(csv.text, to: prefix + ".csv")
        // A radius growing like |1 − ηh|^H past the boundary would flatten everything below it on a linear axis.
        let logY = largest > 10
        var detail = run.momentum.map { ", {/Symbol d} = \($0)" } ?? ""
        if let o = run.outer, let t = run.tau {
            detail += ", H = \(t), outer \(o.optimizer.rawValue) {/Symbol h}_o = \(o.learningRate)" + (o.keepsVelocity ? ", {/Symbol b} = \(o.momentum)" : "")
        }
        return ([prefix + ".csv"], stageFigure(prefix + ".png", transaction: transaction) {
            LinePlot.script(series: [LineSeries(csv: csvTemporary, xColumn: 1, yColumn: 2, title: "spectral radius on the top direction")],
                            references: [LineReference("1", "stability boundary {/Symbol r} = 1")],
                            title: "\(run.method.rawValue) run on its map: h_{max} = \(String(format: "%.4g", main.hMax))\(detail)",
                            xLabel: "{/Symbol h}h", yLabel: "spectral radius", output: $0, terminal: .png, logY: logY,
                            markers: [(main.etaH, main.radius, "this run: {/Symbol h}h_{max} = \(String(format: "%.3g", main.etaH)), radius \(String(format: "%.3g", main.radius))")])
        })
    }
}

/// The fields of a sequential checkpoint header `advise` needs: its step, and the run it belongs to.
struct CheckpointStep: Codable { var step: Int; var runID: String?; var metricsCount: Int? }

/// The fields of a parallel (engine) checkpoint header `advise` needs.
struct ParallelCheckpointClock: Codable { var masterClock: Int; var runID: String?; var metricsCount: Int? }

// `easgd advise`: a training run placed on the stability map. The top Hessian eigenvalue h_max of the run's
// loss at its model (power iteration on Hessian-vector products), the map's coordinate ηh_max, the predicted
// spectral radius on the top direction and the margin to the boundary; PREFIX.csv and PREFIX.png draw the radius
// against ηh with the run marked.

import Dynamics
import Foundation
import Plotting
import Records
import Training

public struct Advice {
    public var runDirectory: String
    /// A checkpoint to use instead of RUN_DIR/checkpoint.bin.
    public var checkpoint: String?
    public var batch: Int
    public var tolerance: Double
    public var maxIterations: Int

    public init(runDirectory: String, checkpoint: String?, batch: Int, tolerance: Double, maxIterations: Int) {
        self.runDirectory = runDirectory
        self.checkpoint = checkpoint
        self.batch = batch
        self.tolerance = tolerance
        self.maxIterations = maxIterations
    }

    /// The report's lines, its JSON, and the figure's warning if gnuplot could not draw it.
    public func estimate(prefix: String) throws -> (lines: [String], json: JSON, warning: String?) {
        let settings = try RunFiles.readSettings(runDirectory)
        ComputeThreads.set(ProcessInfo.processInfo.activeProcessorCount)
        let spec = try NetSpec(parsing: settings.netSpec)
        let path = checkpoint ?? RunFiles.checkpoint(runDirectory)
        let (_, buffers) = try Checkpoint.read(path, as: CheckpointStep.self)
        let method = settings.optimizer.method
        let name = SequentialOptimizer.evaluatedBuffer(method)
        guard let model = buffers[name] else { throw SettingsError("\(path) holds no '\(name)' buffer") }
        let data = try DataSource.load(settings.data)
        let preprocessing = try Preprocessing(train: data.train, input: spec.input)
        let loss = FixedBatchLoss(spec: spec, train: data.train, preprocessing: preprocessing, count: batch,
                                  weightDecay: settings.optimizer.weightDecay)
        let n = loss.count, lambda = settings.optimizer.weightDecay
        guard model.count == loss.network.parameterCount else {
            throw SettingsError("\(path) holds \(model.count) parameters, the run's net has \(loss.network.parameterCount)")
        }
        let estimate = Curvature.topEigenvalue(dimension: model.count, at: model.map(Double.init), tolerance: tolerance,
                                               maxIterations: maxIterations, gradient: loss.gradient)
        let hMax = estimate.topEigenvalue
        guard hMax.isFinite else { throw OutputError("the curvature estimate is not finite (the model may have diverged)") }
        let eta = settings.optimizer.learningRate
        let delta = method == .msgd ? settings.optimizer.momentum : 0
        let e = eta * hMax
        let radius = SequentialStability.radius(etaH: e, momentum: delta)
        let critical = SequentialStability.criticalEtaH(momentum: delta)
        let stable = hMax <= 0 || (e < critical && radius < 1)

        // Radius against ηh for this δ, with the run marked.
        var csv = CSV(header: ["eta_h", "radius"])
        let top = max(3.0, 1.3 * max(e, critical))
        for k in 0...600 { let x = top * Double(k) / 600; try csv.row([x, SequentialStability.radius(etaH: x, momentum: delta)]) }
        let transaction = OutputTransaction()
        let csvTemporary = try transaction.write(csv.text, to: prefix + ".csv")
        let label = method == .msgd ? "Nesterov, {/Symbol d} = \(delta)" : "SGD"
        let warning = stageFigure(prefix + ".png", transaction: transaction) {
            LinePlot.script(series: [LineSeries(csv: csvTemporary, xColumn: 1, yColumn: 2, title: "spectral radius on the top direction (\(label))")],
                            references: [("1", "stability boundary {/Symbol r} = 1")],
                            title: "\(method.rawValue) on \(spec.text): h_{max} = \(String(format: "%.4g", hMax))",
                            xLabel: "{/Symbol h}h", yLabel: "spectral radius", output: $0, terminal: .png,
                            markers: [(e, radius, "this run: {/Symbol h}h_{max} = \(String(format: "%.3g", e)), radius \(String(format: "%.3g", radius))")])
        }
        try transaction.commit()

        let margin = e > 0 ? critical / e : Double.infinity
        let json = JSON.object([
            ("method", .string(method.rawValue)), ("workers", .integer(1)), ("eta", .number(eta)),
            ("momentum", .number(delta)), ("h_max", .number(hMax)), ("hessian_vector_products", .integer(estimate.products)),
            ("converged", .bool(estimate.converged)), ("eta_h", .number(e)), ("spectral_radius", .number(radius)),
            ("critical_eta_h", .number(critical)), ("stable", .bool(stable)),
            ("margin_factor", margin.isFinite ? .number(margin) : .null),
        ])
        var lines = ["run: \(method.rawValue), η = \(eta)\(method == .msgd ? ", δ = \(delta)" : ""), p = 1, weight decay \(lambda)"]
        lines.append("h_max = \(try number(hMax)) (top Hessian eigenvalue at the model; batch \(n), dropout off, \(estimate.products) Hessian-vector products, \(estimate.converged ? "converged to \(tolerance)" : "NOT converged"))")
        lines.append("map coordinates: ηh_max = \(try number(e))\(method == .msgd ? ", δ = \(delta)" : ""), p = 1, τ = 1")
        lines.append("predicted spectral radius on the top direction: \(try number(radius)) (\(stable ? "stable" : "unstable"))")
        if margin.isFinite {
            lines.append("margin: the boundary is at ηh = \(try number(critical)), η up to \(try number(critical / hMax)) (×\(String(format: "%.3g", margin)) the run's η)")
        } else {
            lines.append("margin: h_max ≤ 0, no curvature limit on η at this point")
        }
        return (lines, json, warning)
    }
}

/// The one field of a checkpoint header `advise` needs.
struct CheckpointStep: Codable { var step: Int }

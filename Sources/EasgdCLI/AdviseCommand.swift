// easgd advise: place a training run on the stability map. Estimate the top Hessian eigenvalue h_max of the
// training loss at the run's model, convert the run's settings to the map's dimensionless coordinates and
// report the predicted spectral radius and the margin to the boundary.

import Analysis
import ArgumentParser
import Records
import Dynamics
import Elastic
import Foundation
import Plotting
import Training

struct AdviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise",
        abstract: "Put a training run on the stability map: h_max of its loss, ηh_max, the predicted radius and the margin.",
        discussion: """
            The training loss is the run's mean cross-entropy, plus λ/2‖x‖², on a fixed batch: the first --batch \
            training images, centre-cropped, with dropout off, so it is a deterministic function. h_max is its \
            largest Hessian eigenvalue at the run's model (the average for ASGD/MVASGD). It comes from power \
            iteration on Hessian-vector products, each a central difference of two gradients in Double \
            (ε = 1e-5), until the Rayleigh quotient changes by less than --tolerance. On the top direction the \
            method is a linear map: SGD (also ASGD and MVASGD) multiplies the error by 1 − ηh, and Nesterov (MSGD) \
            has λ² − (1 + δ)(1 − ηh)λ + δ(1 − ηh) = 0, stable for ηh < 2(1 + δ)/(1 + 2δ). Writes PREFIX.csv and \
            PREFIX.png (the radius against ηh with the run marked; default PREFIX = RUN_DIR/advise).
              easgd advise runs/fashion
            """
    )

    @Argument(help: "A training run directory.") var runDirectory: String
    @Option(help: "A checkpoint file to use instead of RUN_DIR/checkpoint.bin.") var checkpoint: String?
    @Option(help: "Images in the fixed batch.") var batch = 128
    @Option(help: "Relative change of the Rayleigh quotient at which power iteration stops.") var tolerance = 1e-3
    @Option(help: "Hessian-vector products per power-iteration run, at most.") var maxIterations = 100
    @Option(help: "Output prefix for the figure and its CSV.") var out: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard batch >= 1, batch <= 4096 else { throw ValidationError("--batch must be between 1 and 4096") }
        guard tolerance > 0, tolerance < 1 else { throw ValidationError("--tolerance must be in (0, 1)") }
        guard maxIterations >= 2, maxIterations <= 10_000 else { throw ValidationError("--max-iterations must be between 2 and 10000") }
        if let out { try OutputPath.checkParent(of: out, for: out) }
    }

    func run() throws {
        let settings = try RunFiles.readSettings(runDirectory)
        ComputeThreads.set(ProcessInfo.processInfo.activeProcessorCount)
        let spec = try NetSpec(parsing: settings.netSpec)
        let path = checkpoint ?? RunFiles.checkpoint(runDirectory)
        let (_, buffers) = try Checkpoint.read(path, as: CheckpointStep.self)
        let method = settings.optimizer.method
        let name = method.evaluatesAverage ? "average" : "parameters"
        guard let model = buffers[name] else { throw ValidationError("\(path) holds no '\(name)' buffer") }
        let data = try DataSource.load(settings.data)
        let preprocessing = try Preprocessing(train: data.train, input: spec.input)
        let loss = FixedBatchLoss(spec: spec, train: data.train, preprocessing: preprocessing, count: batch,
                                  weightDecay: settings.optimizer.weightDecay)
        let n = loss.count, lambda = settings.optimizer.weightDecay
        guard model.count == loss.network.parameterCount else {
            throw ValidationError("\(path) holds \(model.count) parameters, the run's net has \(loss.network.parameterCount)")
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
        let prefix = out ?? runDirectory + "/advise"
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
        if json {
            print(try JSON.object([
                ("method", .string(method.rawValue)), ("workers", .integer(1)), ("eta", .number(eta)),
                ("momentum", .number(delta)), ("h_max", .number(hMax)), ("hessian_vector_products", .integer(estimate.products)),
                ("converged", .bool(estimate.converged)), ("eta_h", .number(e)), ("radius", .number(radius)),
                ("critical_eta_h", .number(critical)), ("stable", .bool(stable)),
                ("margin_factor", margin.isFinite ? .number(margin) : .null),
            ]).render())
        } else {
            print("run: \(method.rawValue), η = \(eta)\(method == .msgd ? ", δ = \(delta)" : ""), p = 1, weight decay \(lambda)")
            print("h_max = \(try number(hMax)) (top Hessian eigenvalue at the model; batch \(n), dropout off, \(estimate.products) Hessian-vector products, \(estimate.converged ? "converged to \(tolerance)" : "NOT converged"))")
            print("map coordinates: ηh_max = \(try number(e))\(method == .msgd ? ", δ = \(delta)" : ""), p = 1, τ = 1")
            print("predicted spectral radius on the top direction: \(try number(radius)) (\(stable ? "stable" : "unstable"))")
            if margin.isFinite {
                print("margin: the boundary is at ηh = \(try number(critical)), η up to \(try number(critical / hMax)) (×\(String(format: "%.3g", margin)) the run's η)")
            } else {
                print("margin: h_max ≤ 0, no curvature limit on η at this point")
            }
        }
        printError("wrote \(prefix).csv" + (warning == nil ? ", \(prefix).png" : ""))
        if let warning { throw FigureNotDrawn(warnings: [warning]) }
    }
}

/// The one field of a checkpoint header `advise` needs.
struct CheckpointStep: Codable { var step: Int }

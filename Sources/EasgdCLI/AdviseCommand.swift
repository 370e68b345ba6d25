// easgd advise: place a training run on the stability map. Estimate the top Hessian eigenvalue h_max of the
// training loss at the run's model, convert the run's settings to the map's dimensionless coordinates and
// report the predicted spectral radius and the margin to the boundary.

import Analysis
import ArgumentParser
import Records

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
        if let out { try OutputPath.checkPrefix(out) }
    }

    func run() throws {
        let advice = Advice(runDirectory: runDirectory, checkpoint: checkpoint, batch: batch, tolerance: tolerance, maxIterations: maxIterations)
        let prefix = out ?? runDirectory + "/advise"
        let result = try advice.estimate(prefix: prefix)
        print(json ? try result.json.render() : result.lines.joined(separator: "\n"))
        printError("wrote \(prefix).csv" + (result.warning == nil ? ", \(prefix).png" : ""))
        if let warning = result.warning { throw FigureNotDrawn(warnings: [warning]) }
    }
}

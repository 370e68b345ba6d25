// easgd advise: place a training run on the stability map. Estimate the top Hessian eigenvalue h_max of the
// training loss at the run's model, convert the run's settings to the map's dimensionless coordinates and
// report the predicted spectral radius and the margin to the boundary.

import Elastic
import Training
import Analysis
import ArgumentParser
import Records

struct AdviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise",
        abstract: "Put a training run on its stability map: h_max of its loss, ηh_max, the predicted radius, h* and the margins.",
        discussion: """
            Works for every method and backend. The training loss is the run's mean cross-entropy, plus \
            λ/2‖x‖², on a fixed batch: the first --batch training images (a full-batch run's whole subset), \
            centre-cropped, with dropout off, so it is a deterministic function. h_max is its largest Hessian eigenvalue at the run's model: the iterate \
            (the average for ASGD/MVASGD) of a sequential run, the center of a parallel one, and with --at \
            workers also each worker's parameters. It comes from Lanczos on Hessian-vector products, each a \
            central difference of two gradients in Double (ε = 1e-5) with the ReLU and pooling pattern fixed at \
            the model, until the largest Ritz value changes by less than --tolerance twice in a row.

            On the top direction each method is a linear map of ηh: SGD (also ASGD and MVASGD) multiplies the \
            error by 1 − ηh; Nesterov (MSGD, and MDOWNPOUR, which in round-robin order with τ = 1 is Nesterov on \
            the center) is stable for ηh < 2(1 + δ)/(1 + 2δ); EASGD, EAMSGD and DOWNPOUR (and its averaging \
            variants, whose average does not feed back) use their round-robin round map at the run's α, τ, p and \
            δ — and, as a second verdict, random order in mean square; synchronous EASGD its recursion. The \
            report gives the spectral radius, the verdict, h* (the curvature at which the radius first crosses 1 \
            at the run's η) and the margins: η up to the boundary, the stable interval of α and the largest \
            stable τ at this h_max. Writes PREFIX.csv and PREFIX.png (default PREFIX = RUN_DIR/advise): the \
            run as a point on its (η, α) or (η, τ) map at h = h_max, or the radius against ηh.
              easgd advise runs/fashion
              easgd advise runs/easgd-p4 --at workers --json
            """
    )

    @Argument(help: "A training run directory.") var runDirectory: String
    @Option(help: "A checkpoint file to use instead of RUN_DIR/checkpoint.bin.") var checkpoint: String?
    @Option(help: "Images in the fixed batch (the first of the training set, as --sharpness-every measures).") var batch = SharpnessProbe.batch
    @Option(help: "Relative change of the largest Ritz value (twice in a row) at which Lanczos stops.") var tolerance = SharpnessProbe.tolerance
    @Option(help: "Hessian-vector products, at most.") var maxIterations = 100
    @Option(help: "Where a parallel run's curvature is estimated: center, or workers (the center and each worker).") var at: AdvicePoint = .center
    @Option(help: "Output prefix for the figure and its CSV.") var out: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try checkLimit("--batch", batch, Limits.batch)
        guard tolerance > 0, tolerance < 1 else { throw ValidationError("--tolerance must be in (0, 1)") }
        guard maxIterations >= 2, maxIterations <= 10_000 else { throw ValidationError("--max-iterations must be between 2 and 10000") }
        if let out { try OutputPath.checkPrefix(out) }
    }

    func run() throws {
        if checkpoint == nil, let pid = DirectoryLock.holder(of: runDirectory) {
            printError("\(runDirectory) is being trained now (process \(pid)): advising on its last checkpoint")
        }
        let advice = Advice(runDirectory: runDirectory, checkpoint: checkpoint, batch: batch, tolerance: tolerance, maxIterations: maxIterations, at: at)
        let prefix = out ?? runDirectory + "/advise"
        let result = try advice.estimate(prefix: prefix)
        print(json ? try result.json.render() : result.lines.joined(separator: "\n"))
        printError("wrote " + (result.files + (result.warning == nil ? [prefix + ".png"] : [])).joined(separator: ", "))
        if let warning = result.warning { throw FigureNotDrawn(warnings: [warning]) }
    }
}

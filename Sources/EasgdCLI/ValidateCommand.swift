// easgd validate: the stability map against real training, point by point (see Analysis/Validation.swift).

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Foundation
import Records
import Training

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Test the stability map on training: one short run per grid point, its outcome against the map's verdict.",
        discussion: """
            Over a grid of η (logarithmic) and one of α (--alpha), τ (--tau-range) or δ (--momentum-range, EAMSGD), \
            each point is one deterministic training run on the simulated backend in round-robin order (τ steps \
            per activation, the order of the map), --jobs at a time with one thread each, in DIR/points, each \
            named by a digest of every setting that determines it. A finished point with intact records is kept \
            and reused only by a grid with the same settings for it, so an interrupted validate continues where it \
            stopped and a changed grid never reports old points; a damaged one is named and run again. One \
            validate at a time per DIR (a second is refused). A run counts as \
            diverged when its training loss stops being finite or ends above --divergence-factor times its start, \
            and stalled when it ends above 95 % of its start or at the chance loss ln K (K classes) or above; the \
            map's "stable" agrees with a run that converged \
            (agreement), and in the weaker reading with one that did not diverge (agreement_on_divergence). An \
            agreement is never alone: validation.json's baselines give what trivial rules score on the same points \
            (always_converged, always_diverged, and gd_rule: stable iff η·h_max < 2), and kappa Cohen's κ of the \
            map's verdicts against the outcomes. \
            The map's verdict is taken at h = h_max: the top Hessian eigenvalue of the training loss at the runs' \
            common starting point (the full batch with --full-batch, else the first 128 training images), or at \
            the model of --h-from RUN_DIR; with --objective quadratic the objective is ½h(x − 1)² in one \
            coordinate, where the engine and the map are the same system, and a run there also counts as diverged \
            when its distance to x* grows over the second half of the run (the map's verdict is asymptotic: a \
            radius just above 1 needs many rounds to grow tenfold). Writes DIR/validation.json (agreement, \
            baselines, kappa, h_max, and every point's coordinates, predicted_stable, observed and losses), DIR/validation.csv and \
            DIR/validation.png (the map at h_max, the outcomes as circles and crosses). \
            With --bisect, each of the M values of the second axis is a row along which the critical η_c, where \
            runs turn from not diverging to diverging, is found by bisection on log η within --eta (both ends \
            first; then geometric midpoints until high/low ≤ --tolerance, default 1.05: 5 %), each row's next run in \
            one batch, resumable like the grid; validation.json adds mode "bisect" and rows (eta_c, eta_low, \
            eta_high, eta_star: the map's η* at h_max, eta_c_over_eta_star; on a net settled_h_max, the sharpness \
            at the end of the row's last run that did not diverge, and eta_star_plateau, the map's η* there; \
            outcome, runs), with the agreement, \
            baselines and κ over every run made; validation.csv holds the rows. Give each run enough activations \
            (--steps / τ) for an unstable mode to show: a radius of 1.01 needs 463 rounds to grow 100×.
              easgd validate --method easgd --workers 4 --eta 0.01:1 --alpha 0.05:0.9 \\
                --grid 6x5 --steps 100 --train-subset 500 --full-batch --out val-easgd
              easgd validate --method downpour --objective quadratic --h 1 --eta 0.01:1 \\
                --tau-range 1:16 --grid 8x8 --steps 400 --out val-q
              easgd validate --method easgd --objective quadratic --h 1 --eta 0.1:4 \\
                --alpha 0.05:0.9 --grid 1x5 --steps 2000 --bisect --out bis-q
            """
    )

    @Option(help: "easgd, eamsgd, downpour, diloco or async-diloco.", transform: parseMethod) var method: Algorithm
    @Option(help: "Workers p.") var workers = 4
    @Option(name: [.customLong("eta"), .customLong("lr")], help: "η range LO:HI (logarithmic axis; --lr is the same option).", transform: parseRange)
    var eta: ClosedRange<Double>
    @Option(help: "α range LO:HI (the second axis; EASGD, EAMSGD).", transform: parseRange) var alpha: ClosedRange<Double>?
    @Option(help: "τ range LO:HI (the second axis; rounded to integers).", transform: parseRange) var tauRange: ClosedRange<Double>?
    @Option(help: "δ range LO:HI (the second axis; EAMSGD).", transform: parseRange) var momentumRange: ClosedRange<Double>?
    @Option(help: "Grid NxM: N values of η, M of the second axis (with --bisect: M rows, N unused).") var grid = GridPoints(eta: 6, second: 5)
    @Option(help: "Steps per worker of each run.") var steps: Int
    @Option(help: "net (default) or quadratic.") var objective: ObjectiveKind = .net
    @Option(help: "The quadratic's curvature h.") var h = 1.0
    @Option(help: "cifar, small or a notation string (default small).") var net = "small"
    @Option(help: "fashion-mnist (default) or a data directory.") var data = TrainingDefaults.data
    @Option(help: "Train on N images of the training set (seeded).") var trainSubset: Int?
    @Flag(help: "Full-batch runs on --train-subset (deterministic; no shuffling, crops, flips or dropout).") var fullBatch = false
    @Option(help: "Minibatch size when not --full-batch.") var batch = 32
    @Option(help: "Seed of every run (the common starting point).") var seed: UInt64 = 1
    @Option(help: "Fixed β = pα when α is not the axis (default \(TrainingDefaults.beta)).") var beta: Double?
    @Option(help: "Fixed τ when it is not the axis.") var tau = 1
    @Option(name: [.customLong("momentum"), .customLong("delta")], help: "Fixed δ of EAMSGD when it is not the axis.") var momentum: Double?
    @OptionGroup var outerOptions: OuterOptions
    @Option(help: "Read the map at the curvature of this run's model instead of the starting point's.") var hFrom: String?
    @Option(help: "A run diverged when its final training loss exceeds this multiple of its first.") var divergenceFactor = 10.0
    @Option(help: "Runs at a time (default: the cores).") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Output directory.") var out: String
    @Flag(help: "Find each row's critical η by bisection on log η instead of running a grid.") var bisect = false
    @Option(help: "With --bisect: stop when a row's bracket high/low is at most this.") var tolerance = 1.05
    @Flag(help: "Print validation.json.") var json = false

    enum ObjectiveKind: String, ExpressibleByArgument, CaseIterable { case net, quadratic }

    func validate() throws {
        try checkLimit("--workers", workers, Limits.trainingWorkers)
        try checkRange("--eta", eta, positiveLower: true)
        let axes = [alpha != nil, tauRange != nil, momentumRange != nil].filter { $0 }.count
        guard axes == 1 else { throw ValidationError("give exactly one second axis: --alpha LO:HI, --tau-range LO:HI or --momentum-range LO:HI") }
        if let alpha { try checkRange("--alpha", alpha); guard alpha.upperBound <= 1 else { throw ValidationError("--alpha must lie within 0:1") } }
        if let tauRange {
            guard tauRange.lowerBound >= Double(Limits.mapTau.lowerBound), tauRange.upperBound <= Double(Limits.mapTau.upperBound) else {
                throw ValidationError("--tau-range must lie within \(Limits.mapTau.lowerBound):\(Limits.mapTau.upperBound)")
            }
        }
        if let momentumRange { guard momentumRange.lowerBound >= 0, momentumRange.upperBound < 1 else { throw ValidationError("--momentum-range must lie within [0, 1)") } }
        if !bisect { try grid.validate() }
        guard steps >= 1, steps <= 10_000_000 else { throw ValidationError("--steps must be between 1 and 10000000") }
        try checkPositive("--h", h)
        try checkPositive("--divergence-factor", divergenceFactor)
        guard divergenceFactor > 1 else { throw ValidationError("--divergence-factor must be above 1") }
        try checkLimit("--jobs", jobs, Limits.threads)
        try checkLimit("--tau", tau, Limits.mapTau)
        if let beta { try checkPositive("--beta", beta) }
        if let momentum { guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") } }
        if fullBatch && trainSubset == nil { throw ValidationError("--full-batch needs --train-subset N") }
        if objective == .quadratic && (trainSubset != nil || fullBatch || hFrom != nil) {
            throw ValidationError("--train-subset, --full-batch and --h-from apply to --objective net")
        }
        try outerOptions.check(method)
        guard !out.isEmpty else { throw ValidationError("--out must not be empty") }
        guard tolerance > 1, tolerance <= 10 else { throw ValidationError("--tolerance must be above 1 and at most 10") }
    }

    func run() throws {
        let axis: ValidationAxis = alpha.map { .alpha($0) } ?? tauRange.map { .tau($0) } ?? .momentum(momentumRange!)
        let target: ValidationObjective = objective == .quadratic ? .quadratic(h: h)
            : .net(net: net, data: data, trainSubset: trainSubset, fullBatch: fullBatch)
        var validation = Validation(method: method, workers: workers, eta: eta, axis: axis, grid: grid, steps: steps, seed: seed,
                                    objective: target, alpha: beta.map { $0 / Double(workers) }, tau: tau, momentum: momentum,
                                    hFrom: hFrom, divergenceFactor: divergenceFactor, jobs: jobs, batch: batch)
        validation.outer = outerOptions.settings(method)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        if bisect {
            let (summary, rows, scores, warning) = try validation.bisect(out: out, executable: executable, tolerance: tolerance) { printError($0) }
            if json { print(try summary.render()) } else {
                let f = { (v: Double?) in v.map { String(format: "%.4g", $0) } ?? "-" }
                for r in rows {
                    let ratio = r.etaC.flatMap { c in r.etaStar.map { c / $0 } }
                    print("\(validation.axis.name) = \(f(r.second)): η_c = \(f(r.etaC)) (\(f(r.low))–\(f(r.high)), \(r.runs) runs), "
                          + "map η* = \(f(r.etaStar)), η_c/η* = \(f(ratio))" + (r.outcome == "bracketed" ? "" : "; \(r.outcome)"))
                }
                let percent = { (v: Double) in String(format: "%.1f %%", 100 * v) }
                print("over its \(rows.reduce(0) { $0 + $1.runs }) runs the map agrees \(percent(scores.agreement)) (always converged "
                      + "\(percent(scores.alwaysConverged)), η·h_max < 2 \(percent(scores.gdRule))\(scores.etaCutoffText), Cohen's κ \(scores.kappa.map { String(format: "%.2f", $0) } ?? "undefined"))")
            }
            printError("wrote \(out)/validation.json, \(out)/validation.csv" + (warning == nil ? ", \(out)/validation.png" : ""))
            if let warning { throw FigureNotDrawn(warnings: [warning]) }
            return
        }
        let (summary, points, scores, warning) = try validation.run(out: out, executable: executable) { printError($0) }
        if json { print(try summary.render()) } else {
            let agree = points.filter(\.agrees).count
            let percent = { (v: Double) in String(format: "%.1f %%", 100 * v) }
            let baselines = "always converged \(percent(scores.alwaysConverged)), always diverged \(percent(scores.alwaysDiverged)), "
                + "η·h_max < 2 \(percent(scores.gdRule))\(scores.etaCutoffText), Cohen's κ \(scores.kappa.map { String(format: "%.2f", $0) } ?? "undefined")"
            print("\(method.rawValue) p=\(workers): \(agree) of \(points.count) points agree with the map (\(String(format: "%.1f", 100 * Double(agree) / Double(points.count))) %; \(baselines)); " +
                  "predicted stable but diverged or stalled: \(points.filter { $0.predictedStable && $0.observed != "converged" }.count), " +
                  "predicted unstable but converged: \(points.filter { !$0.predictedStable && $0.observed == "converged" }.count)" +
                  " (stalled: \(points.filter { $0.observed == "stalled" }.count))")
        }
        printError("wrote \(out)/validation.json, \(out)/validation.csv" + (warning == nil ? ", \(out)/validation.png" : ""))
        if let warning { throw FigureNotDrawn(warnings: [warning]) }
    }
}


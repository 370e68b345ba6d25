// `easgd validate`: the stability map tested on real training. Over a grid of η and a second axis (α, τ or δ),
// one short deterministic simulated-backend run per point (round-robin order; in parallel over the cores, one
// thread each; resumable, finished points kept), each classified as diverged (non-finite, or its training loss
// above `divergenceFactor` times its start; on the quadratic also when its distance to x* grows over the second
// half of the run) or not; the map's verdict at the same point at h = h_max (the
// curvature at the common starting point, or of a trained model with `--h-from`); the share of points where the
// two agree (stable ⇔ converged: the loss fell by 5 % or more and below the chance level ln K; and the weaker
// stable ⇔ not diverged). On the
// quadratic objective the engine and the map are one system, so they must agree everywhere.

import Dynamics
import Elastic
import Engine
import Foundation
import Plotting
import Records
import Training

/// The second axis of a validation grid.
public enum ValidationAxis: Sendable, Equatable {
    case alpha(ClosedRange<Double>)
    case tau(ClosedRange<Double>)
    case momentum(ClosedRange<Double>)

    public var name: String {
        switch self { case .alpha: "alpha"; case .tau: "tau"; case .momentum: "momentum" }
    }
    var range: ClosedRange<Double> {
        switch self { case .alpha(let r), .tau(let r), .momentum(let r): r }
    }
    var symbol: String {
        switch self { case .alpha: "{/Symbol a}"; case .tau: "{/Symbol t}"; case .momentum: "{/Symbol d}" }
    }
    /// `count` evenly spaced values over the range; for τ, rounded to the distinct integers among them.
    func values(count: Int) -> [Double] {
        let values = GridAxis(range, count: count).values
        if case .tau = self { return Array(Set(values.map { $0.rounded() })).sorted() }
        return values
    }
}

/// What each grid point trains.
public enum ValidationObjective: Sendable, Equatable {
    /// F(x) = ½h(x − 1)², one coordinate, from x = 0: the system the round map describes.
    case quadratic(h: Double)
    /// A net on a data set (optionally a fixed subset, optionally full-batch).
    case net(net: String, data: String, trainSubset: Int?, fullBatch: Bool)
}

public struct Validation {
    public var method: Algorithm
    public var workers: Int
    public var eta: ClosedRange<Double>
    public var axis: ValidationAxis
    public var grid: GridPoints
    public var steps: Int
    public var seed: UInt64
    public var objective: ValidationObjective
    /// The settings that are not on an axis: α (default β/p), τ (default 1), δ (EAMSGD; default the training default).
    public var alpha: Double?
    public var tau: Int
    public var momentum: Double?
    /// DiLoCo's outer step (DiLoCo's defaults when nil; the other methods have none).
    public var outer: OuterSettings? = nil
    /// A run whose model's curvature is used instead of the common starting point's.
    public var hFrom: String?
    /// A run diverged when its final training loss exceeds this multiple of its first (or is not finite).
    public var divergenceFactor: Double
    public var jobs: Int
    public var batch: Int

    public init(method: Algorithm, workers: Int, eta: ClosedRange<Double>, axis: ValidationAxis, grid: GridPoints, steps: Int,
                seed: UInt64, objective: ValidationObjective, alpha: Double?, tau: Int, momentum: Double?, hFrom: String?,
                divergenceFactor: Double = 10, jobs: Int, batch: Int = 32) {
        self.method = method
        self.workers = workers
        self.eta = eta
        self.axis = axis
        self.grid = grid
        self.steps = steps
        self.seed = seed
        self.objective = objective
        self.alpha = alpha
        self.tau = tau
        self.momentum = momentum
        self.hFrom = hFrom
        self.divergenceFactor = divergenceFactor
        self.jobs = jobs
        self.batch = batch
    }

    /// One grid point: its coordinates, the map's verdict and what the run did.
    public struct Point: Sendable {
        public var eta: Double
        public var second: Double
        public var spectralRadius: Double
        public var predictedStable: Bool
        public var observedDiverged: Bool
        /// Not diverged, but the loss fell by less than 5 %, or ended at the chance level ln K or above (a net
        /// whose ReLUs died predicts the uniform distribution, whatever its start was).
        public var observedStalled: Bool
        /// diverged, stalled or converged.
        public var observed: String { observedDiverged ? "diverged" : observedStalled ? "stalled" : "converged" }
        public var initialLoss: Double?
        public var finalLoss: Double?
        public var reason: String
        /// The map's verdict against the outcome: stable ⇔ the run converged (its loss fell by 5 % or more).
        public var agrees: Bool { predictedStable == (observed == "converged") }
        /// The weaker reading: stable ⇔ the run did not diverge.
        public var agreesOnDivergence: Bool { predictedStable != observedDiverged }
    }

    /// An agreement next to what trivial rules score on the same points (stable ⇔ converged): every point converged,
    /// none did, GD's rule η·h_max < 2, and the best single cut-off on η alone (converged ⇔ η < c, c fitted to the
    /// outcomes: an upper bound for any rule in η alone, which the map beats only where the second axis matters);
    /// and Cohen's κ of the map's verdicts against the outcomes (nil when the chance agreement is 1: every verdict
    /// or every outcome the same).
    public struct Scores: Sendable, Equatable {
        public var agreement: Double
        public var alwaysConverged: Double
        public var alwaysDiverged: Double
        public var gdRule: Double
        /// The fitted cut-off: its share, and where it lies, the geometric midpoint of the two η values it falls
        /// between (half the least η when every point should be unstable, twice the largest when every one stable;
        /// the lowest such cut where several score the same). Nil without the points' η.
        public var etaCutoff: Cutoff?
        public var kappa: Double?

        public struct Cutoff: Sendable, Equatable {
            public var share: Double
            public var at: Double
        }

        public init(predicted: [Bool], converged: [Bool], etaH: [Double], eta: [Double]? = nil) {
            precondition(predicted.count == converged.count && etaH.count == converged.count && !converged.isEmpty)
            let n = Double(converged.count)
            func share(_ rule: (Int) -> Bool) -> Double { Double(converged.indices.filter { rule($0) == converged[$0] }.count) / n }
            agreement = share { predicted[$0] }
            alwaysConverged = share { _ in true }
            alwaysDiverged = share { _ in false }
            gdRule = share { etaH[$0] < 2 }
            let stable = Double(predicted.filter { $0 }.count) / n, fine = Double(converged.filter { $0 }.count) / n
            let chance = stable * fine + (1 - stable) * (1 - fine)
            kappa = chance < 1 ? (agreement - chance) / (1 - chance) : nil
            if let eta, eta.count == converged.count {
                let values = Array(Set(eta)).sorted()
                let cuts = [values[0] / 2] + zip(values, values.dropFirst()).map { ($0 * $1).squareRoot() } + [values.last! * 2]
                var best = Cutoff(share: -1, at: 0)
                for c in cuts {
                    let s = share { eta[$0] < c }
                    if s > best.share { best = Cutoff(share: s, at: c) }
                }
                etaCutoff = best
            }
        }

        public var json: JSON {
            var fields: [(String, JSON)] = [("always_converged", .number(alwaysConverged)), ("always_diverged", .number(alwaysDiverged)),
                                            ("gd_rule", .number(gdRule))]
            if let c = etaCutoff { fields += [("eta_cutoff", .number(c.share)), ("eta_cutoff_at", .number(c.at))] }
            return .object(fields)
        }

        /// ", best η cut-off 100.0 % (η < 0.4472, fitted)" for the text lines, or nothing.
        public var etaCutoffText: String {
            guard let c = etaCutoff else { return "" }
            return String(format: ", best η cut-off %.1f %% (η < %.4g, fitted)", 100 * c.share, c.at)
        }
    }

    static func scores(_ points: [Point], hMax: Double) -> Scores {
        Scores(predicted: points.map(\.predictedStable), converged: points.map { $0.observed == "converged" }, etaH: points.map { $0.eta * hMax },
               eta: points.map(\.eta))
    }

    /// The η values (logarithmic) and the second axis's values (τ rounded to distinct integers).
    public var etaValues: [Double] { GridAxis(eta, count: grid.eta, logarithmic: true).values }
    public var secondValues: [Double] { axis.values(count: grid.second) }

    var defaultAlpha: Double { alpha ?? TrainingDefaults.beta / Double(workers) }
    var defaultMomentum: Double { SchemePoint.momentum(method, given: momentum) }
    /// DiLoCo's outer step at every point (DiLoCo's defaults when none was given; nil for the other methods).
    var outerStep: OuterSettings? { method.takes(.outer) ? outer ?? OuterSettings() : nil }

    /// The map at the point (α, τ, δ) of the grid's second value.
    func threshold(second: Double) -> MethodThreshold {
        var t = MethodThreshold(method: method, workers: workers, alpha: method.takes(.alpha) ? defaultAlpha : 0, tau: tau,
                                momentum: defaultMomentum, schedule: .roundRobin, outer: outerStep)
        switch axis {
        case .alpha: t.alpha = second
        case .tau: t.tau = Int(second)
        case .momentum: t.momentum = second
        }
        return t
    }

    /// Nil if the grid can be run, else why not (one line).
    public var problem: String? {
        guard [.easgd, .eamsgd, .downpour, .diloco, .asyncDiloco].contains(method) else {
            return "validate maps easgd, eamsgd, downpour, diloco and async-diloco (the methods with a round map), not \(method.rawValue)"
        }
        switch axis {
        case .alpha: if !method.takes(.alpha) { return "\(method.rawValue) has no α: give --tau-range" }
        case .tau: if !method.takes(.tau) { return "\(method.rawValue) has no τ" }
        case .momentum: if method != .eamsgd { return "--momentum-range applies to eamsgd" }
        }
        if let p = grid.problem { return p }
        if grid.eta * grid.second > 10_000 { return "grid \(grid): at most 10000 points (each is a training run)" }
        return nil
    }

    /// Nil if a bisection can be run (the grid's M rows, N unused), else why not.
    public var bisectionProblem: String? {
        if let p = problem, !p.hasPrefix("grid ") { return p }
        guard (1...1000).contains(grid.second) else { return "grid \(grid): a bisection takes 1 to 1000 rows (M)" }
        return nil
    }

    /// The curvature the map is read at.
    func curvature() throws -> (hMax: Double, source: String) {
        switch objective {
        case .quadratic(let h): return (h, "the quadratic's h")
        case .net(let net, let data, let subset, let fullBatch):
            if let hFrom {
                if let status = try RunFiles.readStatus(hFrom), status.state == .diverged {
                    throw SettingsError("--h-from \(hFrom): the run diverged (\(status.reason ?? "status.json")); its model is no point to read the curvature at")
                }
                let advice = Advice(runDirectory: hFrom, checkpoint: nil, batch: SharpnessProbe.batch, tolerance: SharpnessProbe.tolerance,
                                    maxIterations: SharpnessProbe.maxIterations)
                return (try advice.curvatureAtModel(), "the model of \(hFrom)")
            }
            let spec = try NetSpec(parsing: net)
            let split = try DataSource.load(data).trainSubset(subset, seed: seed)
            let preprocessing = try Preprocessing(train: split.train, input: spec.input)
            // The runs' weight decay is the default (validate passes none), and so is the probe's.
            let probe = SharpnessProbe(spec: spec, train: split.train, preprocessing: preprocessing,
                                       weightDecay: TrainingDefaults.weightDecay, fullBatch: fullBatch)
            // The runs' common starting point: the He initialisation of the run's seed, as training draws it.
            let start = FlatBuffer<Float>(count: probe.loss.network.parameterCount)
            Network<Float>(spec: spec, maxBatch: 1).initialize(start, seed: seed)
            let hMax = probe.measure(start).value
            guard hMax.isFinite else { throw OutputError("the curvature at the starting point is not finite") }
            return (hMax, "the common starting point (seed \(seed))")
        }
    }

    /// Runs (or finds) every point, writes DIR/validation.json, .csv and .png; returns the summary, the points
    /// and the figure's warning. `executable` is this easgd, for the net runs; `report` sees one line per point.
    public func run(out dir: String, executable: String, report: (String) -> Void) throws -> (json: JSON, points: [Point], scores: Scores, warning: String?) {
        if let problem { throw SettingsError(problem) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // One validate per directory: a second one would restart the first one's running points.
        let lock = try DirectoryLock(dir)
        defer { lock.release() }
        let (hMax, source) = try curvature()
        var cells: [(eta: Double, second: Double)] = []
        for s in secondValues { for e in etaValues { cells.append((e, s)) } }
        let points = try observe(cells, hMax: hMax, dir: dir, executable: executable, report: report)
        let scores = Self.scores(points, hMax: hMax)
        let summary = summary(points: points, hMax: hMax, source: source, scores: scores)
        let warning = try write(points: points, hMax: hMax, summary: summary, scores: scores, dir: dir)
        return (summary, points, scores, warning)
    }

    /// Runs (or finds) the points at `cells` and judges each against the map at h_max.
    func observe(_ cells: [(eta: Double, second: Double)], hMax: Double, dir: String, executable: String,
                 report: (String) -> Void) throws -> [Point] {
        let observed: [(diverged: Bool, initial: Double?, final: Double?, reason: String)]
        switch objective {
        case .quadratic(let h): observed = try cells.map { try runQuadratic(h: h, eta: $0.eta, second: $0.second) }
        case .net: observed = try runNets(cells, dir: dir, executable: executable, report: report)
        }
        // The cross-entropy of a net that predicts every class alike (ln K); no such floor on the quadratic.
        let chanceLoss: Double = if case let .net(net, _, _, _) = objective { log(Double(try NetSpec(parsing: net).classes)) } else { .infinity }
        var points: [Point] = []
        for (cell, o) in zip(cells, observed) {
            let t = threshold(second: cell.second)
            let radius = try t.radius(etaH: cell.eta * hMax)
            points.append(Point(eta: cell.eta, second: cell.second, spectralRadius: radius,
                                predictedStable: try t.isStable(etaH: cell.eta * hMax), observedDiverged: o.diverged,
                                observedStalled: !o.diverged && (o.final.flatMap { f in o.initial.map { f > Validation.stalledFraction * $0 || f >= 0.99 * chanceLoss } } ?? false),
                                initialLoss: o.initial, finalLoss: o.final, reason: o.reason))
        }
        return points
    }

    // MARK: Bisection

    /// One row of a bisection: the value of the second axis, the largest η seen not to diverge and the smallest seen
    /// to diverge, the critical η_c between them (their geometric mean), and the map's η* at h_max.
    public struct BisectionRow: Sendable {
        public var second: Double
        public var low: Double?
        public var high: Double?
        public var runs: Int
        public var etaStar: Double?
        /// bracketed, "diverges at the lowest η" (η_c below the range) or "does not diverge at the highest η" (above it).
        public var outcome: String
        /// The sharpness (h_max, `advise`'s measure) of the row's last run that did not diverge (at η_low), at its end,
        /// and the map's η* there.
        public var settledSharpness: Double? = nil
        public var etaStarSettled: Double? = nil
        public var etaC: Double? { low.flatMap { l in high.map { (l * $0).squareRoot() } } }
    }

    /// Along each value of the second axis, the η where training turns from not diverging to diverging, found by
    /// bisection on log η within the --eta range until high/low ≤ `tolerance`: both ends first, then geometric
    /// midpoints, every row's next point in one batch of runs (so an interrupted bisection finds its runs again:
    /// the midpoints follow from the outcomes). A run diverged as the grid judges it.
    /// Writes validation.json (the rows, and every run made as a point with the map's verdict, the agreement, its
    /// baselines and κ), validation.csv (the rows) and validation.png (the map with every run).
    public func bisect(out dir: String, executable: String, tolerance: Double,
                       report: (String) -> Void) throws -> (json: JSON, rows: [BisectionRow], scores: Scores, warning: String?) {
        if let bisectionProblem { throw SettingsError(bisectionProblem) }
        guard tolerance > 1 else { throw SettingsError("--tolerance must be above 1 (high/low of the final bracket)") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lock = try DirectoryLock(dir)
        defer { lock.release() }
        let (hMax, source) = try curvature()
        var rows = try secondValues.map { s in
            BisectionRow(second: s, low: nil, high: nil, runs: 0, etaStar: try threshold(second: s).criticalEtaH().map { $0 / hMax },
                         outcome: "bracketed")
        }
        var all: [Point] = []
        // A run fails when it diverged. (Ending at the chance loss is no criterion: a net starts there, so a slow
        // run that has barely moved and a dead one look alike; stalled runs are counted in validation.json.)
        func failed(_ p: Point) -> Bool { p.observedDiverged }
        // Both ends of every row.
        let ends = rows.flatMap { [(eta: eta.lowerBound, second: $0.second), (eta: eta.upperBound, second: $0.second)] }
        report("bisection: both ends of \(rows.count) rows")
        let endPoints = try observe(ends, hMax: hMax, dir: dir, executable: executable, report: report)
        all += endPoints
        for k in rows.indices {
            let (bottom, top) = (endPoints[2 * k], endPoints[2 * k + 1])
            rows[k].runs = 2
            if failed(bottom) {
                rows[k].high = bottom.eta
                rows[k].outcome = "diverges at the lowest η"
            } else if !failed(top) {
                rows[k].low = top.eta
                rows[k].outcome = "does not diverge at the highest η"
            } else {
                rows[k].low = bottom.eta
                rows[k].high = top.eta
            }
        }
        var round = 0
        while true {
            let open = rows.indices.filter { k in
                rows[k].outcome == "bracketed" && rows[k].high! / rows[k].low! > tolerance
            }
            if open.isEmpty { break }
            round += 1
            let mids = open.map { k in (eta: (rows[k].low! * rows[k].high!).squareRoot(), second: rows[k].second) }
            report("bisection round \(round): \(open.count) rows")
            let observed = try observe(mids, hMax: hMax, dir: dir, executable: executable, report: report)
            all += observed
            for (k, p) in zip(open, observed) {
                rows[k].runs += 1
                if failed(p) { rows[k].high = p.eta } else { rows[k].low = p.eta }
            }
        }
        // Where the runs settle: the sharpness at the end of each row's last run that did not diverge (η_low), and the map's
        // η* read there (nets only; the quadratic's h does not move).
        for k in rows.indices {
            guard let low = rows[k].low, let run = pointDirectory(eta: low, second: rows[k].second, dir: dir) else { continue }
            let advice = Advice(runDirectory: run, checkpoint: nil, batch: SharpnessProbe.batch, tolerance: SharpnessProbe.tolerance,
                                maxIterations: SharpnessProbe.maxIterations)
            if let h = try? advice.curvatureAtModel(), h > 0 {
                rows[k].settledSharpness = h
                rows[k].etaStarSettled = try threshold(second: rows[k].second).criticalEtaH().map { $0 / h }
            }
        }
        let scores = Self.scores(all, hMax: hMax)
        var summary = summary(points: all, hMax: hMax, source: source, scores: scores)
        let rounds = steps / max(1, tau)
        func value(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }
        let rowsJSON: JSON = .array(rows.map { r in
            .object([(axis.name, .number(r.second)), ("eta_c", value(r.etaC)), ("eta_low", value(r.low)), ("eta_high", value(r.high)),
                     ("eta_star", value(r.etaStar)), ("eta_c_over_eta_star", value(r.etaC.flatMap { c in r.etaStar.map { c / $0 } })),
                     ("settled_h_max", value(r.settledSharpness)), ("eta_star_plateau", value(r.etaStarSettled)),
                     ("eta_c_over_eta_star_plateau", value(r.etaC.flatMap { c in r.etaStarSettled.map { c / $0 } })),
                     ("outcome", .string(r.outcome)), ("runs", .integer(r.runs))])
        })
        if case .object(var fields) = summary {
            fields.insert(("mode", .string("bisect")), at: 0)
            fields += [("tolerance", .number(tolerance)),
                       ("criterion", .string("a run fails when it diverged (its loss stopped being finite or rose above divergence_factor times its start)")),
                       ("rows", rowsJSON)]
            summary = .object(fields)
        }
        if rounds < Validation.roundsToShow {
            report("note: \(rounds) activations per worker; an unstable mode of radius 1.01 needs \(Validation.roundsToShow) rounds to grow 100×, so η_c may lie above the map's edge by up to what such slow growth hides")
        }
        let warning = try write(points: all, hMax: hMax, summary: summary, scores: scores, dir: dir, rows: rows)
        return (summary, rows, scores, warning)
    }

    /// The rounds a mode of spectral radius 1.01 takes to grow 100×: ln 100 / ln 1.01.
    public static let roundsToShow = Int((log(100) / log(1.01)).rounded(.up))

    /// The engine on the one-dimensional quadratic, round-robin, noiseless: the section-4 scheme itself.
    func runQuadratic(h: Double, eta: Double, second: Double) throws -> (diverged: Bool, initial: Double?, final: Double?, reason: String) {
        let t = threshold(second: second)
        let settings = EngineSettings(method: method, workers: workers, learningRate: eta, alpha: method.takes(.alpha) ? t.alpha : nil,
                                      beta: TrainingDefaults.beta, tau: t.tau, momentum: t.momentum, movingRate: TrainingDefaults.movingRate,
                                      weightDecay: 0, outer: t.outer)
        let run = QuadraticRun(settings: settings, curvatures: [h], sigma: 0, x0: 0, schedule: .roundRobin, steps: steps,
                               evalEvery: nil, seed: seed)        // 200 records: the growth is fitted over the last 100
        let result = try run.run()
        let first = result.initialLoss, last = result.finalLoss
        let verdict = classify(first: first, last: last, stopped: !result.stopped.isEmpty)
        // The map's verdict is asymptotic: a radius of 1.01 needs hundreds of rounds to show a tenfold growth.
        // On the quadratic (a fraction of a second per point) the run also counts as diverged when ln‖x̃ − x*‖
        // grows over its second half (a positive least-squares slope per round).
        // (Not once the distance has reached the floating-point floor, where its logarithm only jitters.)
        if !verdict.diverged, let growth = result.growthPerRound, growth > 0, let first, let last, last > 1e-12 * first {
            return (true, verdict.initial, verdict.final, "ln‖x̃ − x*‖ grows by \(String(format: "%.3g", growth)) per round over the second half")
        }
        return verdict
    }

    /// A run that did not diverge but whose final loss is above this fraction of its first has stalled.
    public static let stalledFraction = 0.95

    /// `stopped`: a worker was stopped (its loss or parameters left the floating-point range). That is a
    /// divergence even when the others, alone, then converge (as they can: fewer workers, another map).
    func classify(first: Double?, last: Double?, stopped: Bool) -> (diverged: Bool, initial: Double?, final: Double?, reason: String) {
        guard let first, first.isFinite else { return (true, nil, nil, "no finite starting loss") }
        if stopped { return (true, first, last, "a worker's loss or parameters stopped being finite") }
        guard let last, last.isFinite else { return (true, first, nil, "the loss stopped being finite") }
        if last > divergenceFactor * first { return (true, first, last, "the loss rose above \(divergenceFactor)× its start") }
        return (false, first, last, last < first ? "the loss fell" : "the loss rose less than \(divergenceFactor)×")
    }

    /// One `easgd train` per point, `jobs` at a time, each in DIR/points/KEY, where KEY is a digest of every setting
    /// that determines the run (its `easgd train` arguments but the output directory), also kept beside it as
    /// KEY.args: a point is reused only when its settings are the same, so changing --eta, --steps or any other
    /// setting runs the new points rather than reporting old ones. A finished run (status.json completed or diverged)
    /// whose records are intact is read, not run again; a damaged one (records missing or cut short) is named and run
    /// again. A child that fails ends the grid with the last line it wrote on standard error (DIR/points/KEY.log).
    func runNets(_ cells: [(eta: Double, second: Double)], dir: String, executable: String,
                 report: (String) -> Void) throws -> [(diverged: Bool, initial: Double?, final: Double?, reason: String)] {
        guard case let .net(net, data, subset, fullBatch) = objective else { return [] }
        let points = (dir as NSString).appendingPathComponent("points")
        try FileManager.default.createDirectory(atPath: points, withIntermediateDirectories: true)
        func settings(_ k: Int) -> [String] { trainArguments(eta: cells[k].eta, second: cells[k].second, net: net, data: data, subset: subset, fullBatch: fullBatch) }
        // Each point's settings once: its arguments, their text (kept as KEY.args) and the key derived from it.
        let arguments = cells.indices.map(settings)
        let texts = arguments.map(Validation.argumentsText)
        let keys = texts.map(Validation.key)
        return try runPoints(cells, arguments: arguments, texts: texts, keys: keys, points: points, executable: executable, report: report)
    }

    /// The `easgd train` arguments of the net run at (η, second), but its output directory.
    func trainArguments(eta e: Double, second: Double, net: String, data: String, subset: Int?, fullBatch: Bool) -> [String] {
        let cell = (eta: e, second: second), t = threshold(second: cell.second)
        var a = ["train", "--method", method.rawValue, "--workers", String(workers), "--lr", "\(cell.eta)", "--steps", String(steps),
                 "--backend", "simulated", "--compute-seconds", "0.01", "--schedule", "round-robin",
                 "--eval-every", String(steps * workers), "--net", net, "--data", data, "--seed", String(seed),
                 "--threads", "1", "--quiet"]
        if method.takes(.alpha) { a += ["--alpha", "\(t.alpha)"] }
        if method.takes(.tau) { a += ["--tau", String(t.tau)] }
        if method.takes(.momentum) { a += ["--momentum", "\(t.momentum)"] }
        if let o = t.outer {
            a += ["--outer", o.optimizer.rawValue, "--outer-lr", "\(o.learningRate)", "--outer-momentum", "\(o.momentum)"]
            if o.delayed { a += ["--outer-delay", "1"] }
            if o.innerNesterov { a += ["--inner-momentum", "\(o.innerMomentum)"] + (o.keepsInnerVelocity ? ["--keep-inner-velocity"] : []) }
        }
        if let subset { a += ["--train-subset", String(subset)] }
        if fullBatch { a += ["--full-batch"] } else { a += ["--batch", String(batch)] }
        return a
    }

    /// A point's arguments as kept in KEY.args, one per line: the text its key is the digest of.
    static func argumentsText(_ arguments: [String]) -> String { arguments.joined(separator: "\n") + "\n" }

    /// The directory of the net run at (η, second) under DIR/points (nil on the quadratic).
    func pointDirectory(eta e: Double, second: Double, dir: String) -> String? {
        guard case let .net(net, data, subset, fullBatch) = objective else { return nil }
        let text = Validation.argumentsText(trainArguments(eta: e, second: second, net: net, data: data, subset: subset, fullBatch: fullBatch))
        return ((dir as NSString).appendingPathComponent("points") as NSString).appendingPathComponent(Validation.key(text))
    }

    func runPoints(_ cells: [(eta: Double, second: Double)], arguments: [[String]], texts: [String], keys: [String], points: String,
                   executable: String, report: (String) -> Void) throws -> [(diverged: Bool, initial: Double?, final: Double?, reason: String)] {
        func path(_ k: Int, _ suffix: String = "") -> String { (points as NSString).appendingPathComponent(keys[k] + suffix) }
        func command(_ k: Int) -> [String] { arguments[k] + ["--out", path(k)] }
        func describe(_ k: Int) -> String {
            "point \(k + 1) (η = \(String(format: "%.4g", cells[k].eta)), \(axis.name) = \(String(format: "%.4g", cells[k].second)))"
        }
        /// Whether point k's run can be read: finished, made with these settings, its records intact.
        enum Found { case reusable, toRun, damaged(String) }
        func found(_ k: Int) -> Found {
            guard (try? String(contentsOfFile: path(k, ".args"), encoding: .utf8)) == texts[k],
                  let status = (try? RunFiles.readStatus(path(k))) ?? nil, status.state == .completed || status.state == .diverged else {
                return .toRun
            }
            return damage(path(k), diverged: status.state == .diverged).map(Found.damaged) ?? .reusable
        }
        var queue: [Int] = []
        for k in cells.indices {
            switch found(k) {
            case .reusable: continue
            case .toRun: break
            case .damaged(let why): report("\(describe(k)): \(why); run again")
            }
            queue.append(k)
        }
        report("\(cells.count - queue.count) of \(cells.count) points already run with these settings; \(queue.count) to run, \(jobs) at a time")
        var running: [(k: Int, process: Process)] = []
        var failure: String? = nil
        while failure == nil && (!queue.isEmpty || !running.isEmpty) {
            while running.count < jobs, !queue.isEmpty {
                let k = queue.removeFirst()
                try? FileManager.default.removeItem(atPath: path(k))       // an unfinished or damaged run starts again
                try AtomicFile.write(texts[k], to: path(k, ".args"))
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = command(k)
                process.standardOutput = FileHandle.nullDevice
                FileManager.default.createFile(atPath: path(k, ".log"), contents: nil)
                process.standardError = FileHandle(forWritingAtPath: path(k, ".log")) ?? FileHandle.nullDevice
                try process.run()
                Cleanup.shared.register(child: process.processIdentifier)
                running.append((k, process))
            }
            usleep(20_000)
            for (k, process) in running where !process.isRunning {
                Cleanup.shared.unregister(child: process.processIdentifier)
                let status = process.terminationStatus
                let said = ((try? String(contentsOfFile: path(k, ".log"), encoding: .utf8)) ?? "")
                    .split(whereSeparator: \.isNewline).last.map(String.init) ?? "nothing on standard error"
                if status != 0 && status != 2 {
                    failure = "\(describe(k)): easgd train exited \(status) (\(said)); the run: \(executable) \(command(k).joined(separator: " "))"
                } else if let damaged = damage(path(k), diverged: status == 2) {
                    failure = "\(describe(k)): easgd train exited \(status) but \(damaged)"
                } else {
                    report("point \(k + 1)/\(cells.count): η = \(String(format: "%.4g", cells[k].eta)), \(axis.name) = \(String(format: "%.4g", cells[k].second)): \(status == 2 ? "diverged" : "done")")
                }
            }
            running.removeAll { !$0.process.isRunning }
        }
        if let failure {
            for (_, process) in running { process.terminate(); process.waitUntilExit(); Cleanup.shared.unregister(child: process.processIdentifier) }
            throw OutputError(failure)
        }
        return try (0..<cells.count).map { k in
            let records = try RunFiles.readMetrics(path(k))
            let status = (try? RunFiles.readStatus(path(k))) ?? nil
            let stopped = status?.state == .diverged || (records.last?.workerLoss?.contains { $0 == nil } ?? false)
            return classify(first: records.first?.trainLoss, last: records.last?.trainLoss, stopped: stopped)
        }
    }

    /// Nil when the finished run in `dir` has the records a point is judged by: an evaluation at step 0 with a training
    /// loss and, unless it diverged, the final one at the whole budget: every worker still running at `steps` or
    /// beyond (in round-robin order a worker's activation is τ steps, so with τ not dividing `steps` each worker ends
    /// at the next multiple of τ: DOWNPOUR at τ = 9 and 100 steps ends at 108 each; a worker stopped on a non-finite
    /// loss, null in `worker_loss`, stays where it stopped); else what is wrong with them.
    func damage(_ dir: String, diverged: Bool) -> String? {
        let records: [MetricRecord]
        do { records = try RunFiles.readMetrics(dir) } catch { return "its records are damaged (\(error))" }
        guard let first = records.first else { return "its records are empty (\(RunFiles.metricsJSONL(dir)))" }
        guard first.step == 0, first.trainLoss != nil else { return "its records lack the evaluation at step 0 (\(RunFiles.metricsJSONL(dir)))" }
        if !diverged, let last = records.last {
            let clocks = last.workerSteps ?? []
            let running = clocks.indices.filter { k in !(last.workerLoss.map { k < $0.count && $0[k] == nil } ?? false) }
            // (Every loss null: the evaluation at step 0, before any worker's first loss: a run cut short.)
            let reached = clocks.isEmpty ? last.step >= steps * workers : !running.isEmpty && running.allSatisfy { clocks[$0] >= steps }
            if !reached {
                return "its records end at step \(last.step), short of the budget of \(steps) steps per worker (\(RunFiles.metricsJSONL(dir)))"
            }
        }
        return nil
    }

    /// A point's name: 16 hex digits of the FNV-1a digest of its settings' text (one per line).
    static func key(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(format: "%016llx", hash)
    }

    func summary(points: [Point], hMax: Double, source: String, scores: Scores) -> JSON {
        var fields: [(String, JSON)] = [
            ("method", .string(method.rawValue)), ("workers", .integer(workers)), ("axis", .string(axis.name)),
            ("grid", .string(grid.description)), ("steps_per_worker", .integer(steps)), ("seed", .integer(Int(truncatingIfNeeded: seed))),
            ("schedule", .string("round-robin")), ("divergence_factor", .number(divergenceFactor)),
        ]
        switch objective {
        case .quadratic(let h): fields += [("objective", .string("quadratic")), ("h", .number(h))]
        case .net(let net, let data, let subset, let fullBatch):
            fields += [("objective", .string("net")), ("net", .string(net)), ("data", .string(data)),
                       ("train_subset", subset.map { .integer($0) } ?? .null), ("full_batch", .bool(fullBatch))]
        }
        if axis.name != "alpha" && method.takes(.alpha) { fields.append(("alpha", .number(defaultAlpha))) }
        if axis.name != "tau" && method.takes(.tau) { fields.append(("tau", .integer(tau))) }
        if axis.name != "momentum" && method.takes(.momentum) { fields.append(("momentum", .number(defaultMomentum))) }
        if let o = outerStep {
            fields += [("outer", .string(o.optimizer.rawValue)), ("outer_eta", .number(o.learningRate)), ("outer_momentum", .number(o.momentum)),
                       ("outer_delay", .integer(o.delayed ? 1 : 0))]
        }
        fields += [("h_max", .number(hMax)), ("h_from", .string(source)), ("agreement", .number(scores.agreement)),
                   ("baselines", scores.json), ("kappa", scores.kappa.map { .number($0) } ?? .null),
                   ("agreement_on_divergence", .number(Double(points.filter(\.agreesOnDivergence).count) / Double(points.count))),
                   ("predicted_stable_observed_diverged", .integer(points.filter { $0.predictedStable && $0.observedDiverged }.count)),
                   ("predicted_stable_observed_stalled", .integer(points.filter { $0.predictedStable && $0.observed == "stalled" }.count)),
                   ("predicted_unstable_observed_converged", .integer(points.filter { !$0.predictedStable && $0.observed == "converged" }.count)),
                   ("predicted_unstable_observed_stalled", .integer(points.filter { !$0.predictedStable && $0.observed == "stalled" }.count))]
        fields.append(("points", .array(points.map { p in
            .object([("eta", .number(p.eta)), (axis.name, .number(p.second)), ("spectral_radius", .number(p.spectralRadius)),
                     ("predicted_stable", .bool(p.predictedStable)), ("observed", .string(p.observed)),
                     ("initial_loss", p.initialLoss.map { .number($0) } ?? .null), ("final_loss", p.finalLoss.map { .number($0) } ?? .null),
                     ("reason", .string(p.reason))])
        })))
        return .object(fields)
    }

    /// validation.json, validation.csv and validation.png (the map at h_max with the observed outcomes).
    func write(points: [Point], hMax: Double, summary: JSON, scores: Scores, dir: String, rows: [BisectionRow]? = nil) throws -> String? {
        let prefix = (dir as NSString).appendingPathComponent("validation")
        let transaction = OutputTransaction()
        try transaction.write(try summary.render() + "\n", to: prefix + ".json")
        if let rows {
            // A bisection's CSV: its rows.
            var csv = CSV(header: [axis.name, "eta_c", "eta_low", "eta_high", "eta_star", "eta_c_over_eta_star", "settled_h_max",
                                   "eta_star_plateau", "outcome", "runs"])
            for r in rows {
                let ratio = r.etaC.flatMap { c in r.etaStar.map { c / $0 } }
                func cell(_ v: Double?) throws -> String { try v.map(number) ?? "" }
                let values: [Double?] = [r.second, r.etaC, r.low, r.high, r.etaStar, ratio, r.settledSharpness, r.etaStarSettled]
                csv.row(try values.map(cell) + [r.outcome, String(r.runs)])
            }
            try transaction.write(csv.text, to: prefix + ".csv")
        } else {
            var csv = CSV(header: ["eta", axis.name, "spectral_radius", "predicted_stable", "observed", "initial_loss", "final_loss"])
            for p in points {
                csv.row([try number(p.eta), try number(p.second), try number(p.spectralRadius), String(p.predictedStable),
                         p.observed, try p.initialLoss.map(number) ?? "", try p.finalLoss.map(number) ?? ""])
            }
            try transaction.write(csv.text, to: prefix + ".csv")
        }
        // The map itself, finer than the grid of runs, at h = h_max.
        let fineEta = GridAxis(eta, count: 120, logarithmic: true).values
        let fineSecond = axis.values(count: 90)
        var map = CSV(header: ["eta", axis.name, "spectral_radius"])
        var least = Double.infinity, most = -Double.infinity
        for s in fineSecond {
            let t = threshold(second: s)
            for e in fineEta {
                let r = min(try t.radius(etaH: e * hMax), 3)       // the colour scale's top (validation.csv's radii are exact)
                least = min(least, r); most = max(most, r)
                map.row([try number(e), try number(s), try number(r)])
            }
        }
        let mapFile = try transaction.scratch(map.text, beside: prefix)
        func pointsFile(_ observed: String) throws -> String {
            var c = CSV(header: ["eta", axis.name])
            for p in points where p.observed == observed { c.row([try number(p.eta), try number(p.second)]) }
            return try transaction.scratch(c.text, beside: prefix)
        }
        // Short enough for the figure's width: "trivial rules: all converge 83 %, ηh_max < 2 67 %, η cut-off 100 %, κ = 0.30".
        let baselines = "all converge \(String(format: "%.0f", 100 * scores.alwaysConverged)) %, {/Symbol h}h_{max} < 2 \(String(format: "%.0f", 100 * scores.gdRule)) %"
            + (scores.etaCutoff.map { ", {/Symbol h} cut-off \(String(format: "%.0f", 100 * $0.share)) %" } ?? "")
            + (scores.kappa.map { ", {/Symbol k} = \(String(format: "%.2f", $0))" } ?? "")
        var panel = HeatMapPanel(csv: mapFile, title: "\(method.rawValue), p = \(workers), round-robin, h_{max} = \(String(format: "%.4g", hMax)): \(String(format: "%.0f", 100 * scores.agreement)) % agree (radii > 3 as 3)\ntrivial rules: \(baselines)",
                                 xLabel: "{/Symbol h}", yLabel: axis.symbol, logX: true, minValue: least, maxValue: most)
        // The best cut-off on η alone, where it lies inside the map: a rule that ignores the second axis.
        if let c = scores.etaCutoff, c.at > eta.lowerBound, c.at < eta.upperBound {
            var line = CSV(header: ["eta", axis.name])
            for s in [fineSecond.first!, fineSecond.last!] { line.row([try number(c.at), try number(s)]) }
            panel.curves.append((try transaction.scratch(line.text, beside: prefix),
                                 "best cut-off on {/Symbol h} alone (fitted): \(String(format: "%.0f", 100 * c.share)) %"))
        }
        let styles = [("converged", "converged", "pt 6"), ("stalled", "stalled (fell < 5 % or at chance)", "pt 8"), ("diverged", "diverged", "pt 2")]
        for (outcome, title, point) in styles where points.contains(where: { $0.observed == outcome }) {
            panel.pointSets.append((try pointsFile(outcome), title, "\(point) ps 1.6 lw 2 lc rgb 'black'"))
        }
        let warning = stageFigure(prefix + ".png", transaction: transaction) {
            HeatMap.script(panels: [panel], columns: 1, output: $0, terminal: .png)
        }
        try transaction.commit()
        return warning
    }
}

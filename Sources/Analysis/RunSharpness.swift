// `easgd plot --sharpness`: each run's sharpness (h_max of its training loss, from `--sharpness-every`) against
// time, with the threshold of its method at its settings, h* — 2/η for SGD, 2(1 + δ)/(η(1 + 2δ)) for Nesterov,
// the root along h of ρ(F(h)) = 1 of the round-robin map for EASGD, EAMSGD and DOWNPOUR — as a dashed line, and
// 2/η beside it where the two differ. PREFIX-sharpness.csv holds the points and both thresholds, each at the
// learning rate in force at the record (a schedule's: the thresholds then move with η and are drawn as dashed
// curves, not lines).

import Foundation
import Plotting
import Records
import Training

extension RunPlot {
    /// One dashed line per distinct threshold: in its run's colour when one run has it, in black and named for
    /// every run when several share it (three runs at one η share 2/η; drawn thrice, the last would hide the others).
    static func referenceLines(_ constants: [(value: Double, kind: String, run: String, lineType: Int)]) throws -> [LineReference] {
        var groups: [[(value: Double, kind: String, run: String, lineType: Int)]] = []
        for c in constants {
            if let k = groups.firstIndex(where: { abs($0[0].value - c.value) <= 1e-9 * max(abs(c.value), 1e-300) }) {
                groups[k].append(c)
            } else {
                groups.append([c])
            }
        }
        return try groups.map { g in
            let value = String(format: "%.4g", g[0].value)
            if g.count == 1 { return LineReference(try number(g[0].value), "\(g[0].kind) of \(g[0].run) = \(value)", lineType: g[0].lineType) }
            let names = g.map { "\($0.kind) of \($0.run)" }
            return LineReference(try number(g[0].value), "\(names.joined(separator: ", ")) = \(value) (one line)", lineType: -1)
        }
    }

    /// The critical ηh of the run's method and settings (nil where the map stays stable to ηh = 10⁴): the run's
    /// threshold is h* = that / η, and SGD's 2/η.
    public static func criticalEtaH(_ run: RunSummary) throws -> Double? {
        try MethodThreshold(method: run.method, workers: run.workers, alpha: run.alpha ?? 0, tau: run.tau ?? 1,
                            momentum: run.momentum ?? 0, schedule: .roundRobin, outer: run.outer).criticalEtaH()
    }

    /// Writes PREFIX-sharpness.csv and PREFIX-sharpness.<format>; returns the figures gnuplot could not draw.
    public func writeSharpness(prefix: String, formats: [Terminal], title: String, logY: Bool) throws -> [String] {
        let measured = runs.filter { $0.records.contains { $0.sharpness != nil } }
        guard !measured.isEmpty else {
            throw SettingsError("no run holds sharpness records (train with --sharpness-every N)")
        }
        let transaction = OutputTransaction()
        var csv = CSV(header: ["run", "label", "total_steps", "epoch", "seconds", "sharpness", "h_star", "two_over_eta"])
        var series: [LineSeries] = []
        // Constant thresholds: value, what it is ("h*" or "2/η"), the run's drawn name and colour.
        var constants: [(value: Double, kind: String, run: String, lineType: Int)] = []
        let x = switch axis { case .seconds: 5; case .epochs: 4; case .steps: 3 }
        for (i, run) in measured.enumerated() {
            let name = URL(fileURLWithPath: run.dir).lastPathComponent, drawn = Gnuplot.literal(name)
            let critical = try RunPlot.criticalEtaH(run)
            let rates = Set(run.records.compactMap { $0.sharpness == nil ? nil : $0.learningRate ?? run.learningRate })
            var own = CSV(header: ["run", "label", "total_steps", "epoch", "seconds", "sharpness", "h_star", "two_over_eta"])
            for r in run.records {
                guard let s = r.sharpness, s.isFinite else { continue }
                let eta = r.learningRate ?? run.learningRate
                let values = [String(r.step), try number(r.epoch), try number(r.seconds), try number(s)]
                let thresholds = [try critical.map { try number($0 / eta) } ?? "", try number(2 / eta)]
                own.row([String(i), ""] + values + thresholds)    // gnuplot's copy: no label, which could hold a line break
                csv.row([String(i), CSV.quote(name)] + values + thresholds)
            }
            let scratch = try transaction.scratch(own.text, beside: prefix)
            series.append(LineSeries(csv: scratch, xColumn: x, yColumn: 6,
                                     title: "\(drawn) (\(run.method.rawValue), η = \(run.learningRate)\(rates.count > 1 ? ", scheduled" : ""))",
                                     lineType: i + 1))
            if rates.count > 1 {
                // η changes over the run, and h* = ηh*/η with it: dashed curves from the same rows.
                if critical != nil { series.append(LineSeries(csv: scratch, xColumn: x, yColumn: 7, title: "h* of \(drawn) at the η in force", lineType: i + 1, dashed: true)) }
                if critical.map({ abs($0 - 2) > 1e-9 }) ?? true {         // SGD's h* is 2/η itself
                    series.append(LineSeries(csv: scratch, xColumn: x, yColumn: 8, title: "2/{/Symbol h} of \(drawn) at the η in force",
                                             lineType: i + 1, dashed: true))
                }
                continue
            }
            let eta = rates.first ?? run.learningRate
            let hStar = critical.map { $0 / eta }, sgd = 2 / eta          // the thresholds at the one η of the run
            // Each run's thresholds dashed in its own colour: h*, and 2/η where it differs.
            if let hStar {
                constants.append((hStar, "h*", drawn, i + 1))
                if abs(hStar - sgd) > 1e-9 * sgd { constants.append((sgd, "2/{/Symbol h}", drawn, i + 1)) }
            }
        }
        let references = try RunPlot.referenceLines(constants)
        try transaction.write(csv.text, to: prefix + "-sharpness.csv")
        var warnings: [String] = []
        for format in formats {
            if let w = stageFigure("\(prefix)-sharpness.\(format.rawValue)", transaction: transaction, {
                LinePlot.script(series: series, references: references, title: Gnuplot.literal(title), xLabel: xLabel,
                                yLabel: "sharpness h_{max} of the training loss", output: $0, terminal: format, logY: logY)
            }) { warnings.append(w) }
        }
        try transaction.commit()
        return warnings
    }
}

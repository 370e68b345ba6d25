// easgd variance-map: the MSE of synchronous EASGD's center over (ηh, β) for several p and t, and the
// comparison with SGD and MVASGD at equal η.

import Analysis
import ArgumentParser
import Records
import Dynamics
import Foundation
import Training
import Plotting

struct VarianceMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance-map",
        abstract: "MSE maps of synchronous EASGD's center over (ηh, β), and the comparison with SGD and MVASGD.",
        discussion: """
            Writes PREFIX.csv (p, t, eta_h, beta, stable, mse; mse empty at t = inf where it diverges) and PREFIX.png, one \
            panel per (p, t) on a log colour scale. Grey means the map is not stable at t = ∞; the dashed curve \
            is the stability boundary β = (4 − 2ηh)/(2(1 + 1/p) − ηh). Where the map is not stable the MSE \
            grows without bound in t; those points are grey in every panel (the CSV keeps the finite-t value and a \
            stable column). It also writes PREFIX-compare.csv and \
            PREFIX-compare.png: the MSE at t = ∞ against ηh for EASGD (β fixed), SGD and MVASGD (moving rate β) \
            at the same η. Every value is the closed form. Example (the paper's settings x̃₀ = x_i₀ = 1, h = 1, σ = 10):
              easgd variance-map --out plots/variance/mse
            """
    )

    @Option(help: "Worker counts, one row of panels each.") var workers = WorkerList(argument: "1,10,100,1000,10000")!
    @Option(help: "Times, one column of panels each (integers or inf).") var times: String = "1,2,10,100,inf"
    @Option(help: "Grid points per axis in each panel.") var grid = 100
    @Option(help: "Largest ηh and β on the axes.") var extent = 2.2
    @Option(help: "Curvature h.") var h = 1.0
    @Option(help: "Noise standard deviation σ.") var sigma = 10.0
    @Option(help: "Starting point of the workers and of the center.") var x0 = 1.0
    @Option(help: "β of the comparison figure.") var compareBeta = 0.9
    @Option(help: "Output prefix; its directory must exist.") var out: String

    func validate() throws {
        for p in workers.counts { guard p >= 1, p <= 1_000_000 else { throw ValidationError("--workers values must be between 1 and 1000000") } }
        _ = try parsedTimes()
        guard grid >= 2, grid <= 2000 else { throw ValidationError("--grid must be between 2 and 2000 (got \(grid))") }
        try checkPositive("--extent", extent)
        try checkPositive("--h", h)
        try checkNonNegative("--sigma", sigma)
        try checkFinite("--x0", x0)
        try checkPositive("--compare-beta", compareBeta)
        try OutputPath.checkParent(of: out, for: out)
    }

    func parsedTimes() throws -> [TimeArgument] {
        let list = times.split(separator: ",").map { TimeArgument(argument: String($0)) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--times must be a comma-separated list of step counts or inf (got \(times))")
        }
        return list.map { $0! }
    }

    func run() throws {
        let ts = try parsedTimes()
        let axis = (1...grid).map { extent * Double($0) / Double(grid) }
        var csv = CSV(header: ["p", "t", "eta_h", "beta", "stable", "mse"])
        var panelTexts: [(text: String, p: Int, t: TimeArgument)] = []
        var lo = Double.infinity, hi = -Double.infinity
        for p in workers.counts {
            for t in ts {
                var panel = CSV(header: ["eta_h", "beta", "log10_mse"])
                for beta in axis {
                    for etaH in axis {
                        let model = SynchronousEASGD(workers: p, eta: etaH / h, beta: beta, h: h, sigma: sigma)
                        let m = model.centerMoments(at: t.steps, x0: x0, center0: x0)?.moments.mse
                        let stable = model.isStable
                        let value = m.flatMap { $0.isFinite ? $0 : nil }
                        csv.row([String(p), t.label, try number(etaH), try number(beta), String(stable),
                                 try value.map(number) ?? ""])
                        // Where the map is not stable the MSE grows without bound: drawn grey at every t.
                        if stable, let value, value > 0 {
                            let l = log10(value)
                            panel.row([try number(etaH), try number(beta), try number(l)])
                            lo = min(lo, l); hi = max(hi, l)
                        } else {
                            panel.row([try number(etaH), try number(beta), "NaN"])
                        }
                    }
                }
                panelTexts.append((panel.text, p, t))
            }
        }
        // The comparison at t = ∞ along ηh.
        var compare = CSV(header: ["eta_h"] + workers.counts.map { "easgd_p\($0)" } + ["sgd", "mvasgd"])
        for etaH in (1...400).map({ 2.0 * Double($0) / 401 }) {
            var row = [try number(etaH)]
            for p in workers.counts {
                let m = SynchronousEASGD(workers: p, eta: etaH / h, beta: compareBeta, h: h, sigma: sigma)
                    .centerMoments(at: nil, x0: x0, center0: x0)?.moments.mse
                row.append(try m.map(number) ?? "")
            }
            row.append(try SequentialNoisyQuadratic.sgd(eta: etaH / h, h: h, sigma: sigma, x0: x0, at: nil).map { try number($0.mse) } ?? "")
            row.append(try SequentialNoisyQuadratic.mvasgd(eta: etaH / h, h: h, sigma: sigma, rate: compareBeta, x0: x0, at: nil)
                .map { try number($0.mse) } ?? "")
            compare.row(row)
        }

        let transaction = OutputTransaction()
        try transaction.write(csv.text, to: out + ".csv")
        var panels: [ValueMapPanel] = []
        var boundaries: [Int: String] = [:]       // one curve file per p, shared by that row's panels
        for panel in panelTexts {
            if boundaries[panel.p] == nil {
                let curve = PaperCurves.synchronousBoundary(workers: panel.p, extent: extent)
                var data = CSV(header: ["eta_h", "beta"])
                for point in curve.points { try data.row([point.x, point.y]) }
                boundaries[panel.p] = try transaction.scratch(data.text, beside: out)
            }
            panels.append(ValueMapPanel(csv: try transaction.scratch(panel.text, beside: out),
                                        title: "p = \(panel.p), t = \(panel.t.steps.map(String.init) ?? "∞")",
                                        curves: [(boundaries[panel.p]!, "stability boundary")]))
        }
        let compareTemporary = try transaction.write(compare.text, to: out + "-compare.csv")
        var warnings: [String] = []
        if let w = stageFigure(out + ".png", transaction: transaction, { output in
            ValueMaps.script(panels: panels, columns: ts.count, xLabel: "{/Symbol h}h", yLabel: "{/Symbol b} = p{/Symbol a}",
                             colourLabel: "log_{10} E(x̃_t - x*)^2", log10Range: (lo.rounded(.down), hi.rounded(.up)),
                             title: "synchronous EASGD, MSE of the center (h = \(h), {/Symbol s} = \(sigma), x_0 = x̃_0 = \(x0)); grey: not stable, the MSE diverges; dashed: the boundary",
                             output: output, terminal: .png)
        }) { warnings.append(w) }
        if let w = stageFigure(out + "-compare.png", transaction: transaction, { output in
            var series = workers.counts.enumerated().map { k, p in
                LineSeries(csv: compareTemporary, xColumn: 1, yColumn: 2 + k, title: "EASGD center, p = \(p), {/Symbol b} = \(compareBeta)")
            }
            series.append(LineSeries(csv: compareTemporary, xColumn: 1, yColumn: 2 + workers.counts.count, title: "SGD"))
            series.append(LineSeries(csv: compareTemporary, xColumn: 1, yColumn: 3 + workers.counts.count,
                                     title: "MVASGD, moving rate \(compareBeta)"))
            return LinePlot.script(series: series, title: "MSE at t = ∞ at equal {/Symbol h} (h = \(h), {/Symbol s} = \(sigma))",
                                   xLabel: "{/Symbol h}h", yLabel: "E(x - x*)^2", output: output, terminal: .png, logY: true)
        }) { warnings.append(w) }
        try transaction.commit()
        printError("wrote \(out).csv, \(out)-compare.csv" + (warnings.isEmpty ? ", \(out).png, \(out)-compare.png" : ""))
        if !warnings.isEmpty { throw FigureNotDrawn(warnings: warnings) }
    }
}

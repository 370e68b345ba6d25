// `easgd variance-map`: the MSE of synchronous EASGD's center over (ηh, β), one panel per (p, t), with the
// stability boundary; and the MSE at t = ∞ along ηh for EASGD, SGD and MVASGD at equal η. Every value is a
// closed form.

import Dynamics
import Foundation
import Plotting
import Records
import Training

public struct VarianceMaps {
    public var workers: [Int]
    /// nil: t = ∞.
    public var times: [Int?]
    public var grid: Int
    public var extent: Double
    public var h: Double
    public var sigma: Double
    public var x0: Double
    public var compareBeta: Double

    public init(workers: [Int], times: [Int?], grid: Int, extent: Double, h: Double, sigma: Double, x0: Double, compareBeta: Double) {
        self.workers = workers
        self.times = times
        self.grid = grid
        self.extent = extent
        self.h = h
        self.sigma = sigma
        self.x0 = x0
        self.compareBeta = compareBeta
    }

    /// Writes PREFIX.csv, PREFIX-compare.csv and their figures; returns a summary (every setting, and per panel
    /// the stable fraction and the range of the finite MSE) and the figures gnuplot could not draw.
    public func write(prefix out: String) throws -> (summary: JSON, warnings: [String]) {
        try MemoryEstimate.check(MemoryEstimate.grid(points: grid, grid, workers.count, times.count, bytesPerPoint: MemoryEstimate.bytesPerVariancePoint),
                                 for: "\(workers.count * times.count) panels of \(grid)x\(grid) points")
        var panelSummaries: [JSON] = []
        let axis = (1...grid).map { extent * Double($0) / Double(grid) }
        var csv = CSV(header: ["workers", "t", "eta_h", "beta", "stable", "mse"])
        var panelTexts: [(text: String, p: Int, t: Int?)] = []
        var lo = Double.infinity, hi = -Double.infinity
        for p in workers {
            for t in times {
                var panel = CSV(header: ["eta_h", "beta", "log10_mse"])
                var stableCount = 0, least = Double.infinity, most = -Double.infinity
                for beta in axis {
                    for etaH in axis {
                        let model = SynchronousEASGD(workers: p, eta: etaH / h, beta: beta, h: h, sigma: sigma)
                        let m = model.centerMoments(at: t, x0: x0, center0: x0)?.moments.mse
                        let stable = model.isStable
                        let value = m.flatMap { $0.isFinite ? $0 : nil }
                        if stable { stableCount += 1 }
                        if let value { least = min(least, value); most = max(most, value) }
                        csv.row([String(p), (t.map(String.init) ?? "inf"), try number(etaH), try number(beta), String(stable),
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
                panelSummaries.append(.object([
                    ("workers", .integer(p)), ("t", t.map { .integer($0) } ?? .string("inf")),
                    ("stable_fraction", .number(Double(stableCount) / Double(axis.count * axis.count))),
                    ("mse", least <= most ? .object([("min", .number(least)), ("max", .number(most))]) : .null),
                ]))
            }
        }
        // The comparison at t = ∞ along ηh.
        var compare = CSV(header: ["eta_h"] + workers.map { "easgd_p\($0)" } + ["sgd", "mvasgd"])
        for etaH in (1...400).map({ 2.0 * Double($0) / 401 }) {
            var row = [try number(etaH)]
            for p in workers {
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
                                        title: "p = \(panel.p), t = \(panel.t.map(String.init) ?? "∞")",
                                        curves: [(boundaries[panel.p]!, "stability boundary")]))
        }
        let compareTemporary = try transaction.write(compare.text, to: out + "-compare.csv")
        var warnings: [String] = []
        if let w = stageFigure(out + ".png", transaction: transaction, { output in
            ValueMaps.script(panels: panels, columns: times.count, xLabel: "{/Symbol h}h", yLabel: "{/Symbol b} = p{/Symbol a}",
                             colourLabel: "MSE E(x̃_t - x*)^2", log10Range: (lo.rounded(.down), hi.rounded(.up)),
                             title: "synchronous EASGD, MSE of the center (h = \(h), {/Symbol s} = \(sigma), x_0 = x̃_0 = \(x0)); grey: not stable, the MSE diverges; dashed: the boundary",
                             output: output, terminal: .png)
        }) { warnings.append(w) }
        if let w = stageFigure(out + "-compare.png", transaction: transaction, { output in
            // EASGD in shades of blue, light (p = 1) to dark (the largest p); SGD black, MVASGD grey.
            let blues = ["#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b"]
            var series = workers.enumerated().map { k, p in
                LineSeries(csv: compareTemporary, xColumn: 1, yColumn: 2 + k, title: "EASGD center, p = \(p), {/Symbol b} = \(compareBeta)",
                           colour: blues[min(blues.count - 1, k * blues.count / max(1, workers.count))])
            }
            series.append(LineSeries(csv: compareTemporary, xColumn: 1, yColumn: 2 + workers.count, title: "SGD", colour: "#000000"))
            series.append(LineSeries(csv: compareTemporary, xColumn: 1, yColumn: 3 + workers.count,
                                     title: "MVASGD, moving rate \(compareBeta)", colour: "#969696"))
            return LinePlot.script(series: series, title: "MSE at t = ∞ at equal {/Symbol h} (h = \(h), {/Symbol s} = \(sigma))",
                                   xLabel: "{/Symbol h}h", yLabel: "E(x - x*)^2", output: output, terminal: .png, logY: true)
        }) { warnings.append(w) }
        try transaction.commit()
        let summary = JSON.object([
            ("method", .string("sync-easgd")), ("h", .number(h)), ("sigma", .number(sigma)), ("x0", .number(x0)),
            ("grid", .integer(grid)), ("extent", .number(extent)), ("compare_beta", .number(compareBeta)),
            ("panels", .array(panelSummaries)),
        ])
        return (summary, warnings)
    }
}

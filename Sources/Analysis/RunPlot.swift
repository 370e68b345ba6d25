// The data of `easgd plot`: one block of CSV rows per curve (a run, or a group of runs that differ only in their
// seed, averaged at the evaluations they share, with the min and max), the time axis named for what it is, and
// the figure staged beside the CSV in every format asked for.

import Foundation
import Plotting
import Records
import Training

public enum PlotAxis: String, Sendable, CaseIterable {
    case seconds, epochs, steps
}

public struct RunPlot {
    public var runs: [RunSummary]
    public var axis: PlotAxis
    /// One per curve (a run, or with `groupSeeds` a group); nil: the directory names.
    public var labels: [String]?
    public var groupSeeds: Bool
    /// Test errors (fractions) drawn as dotted lines, each curve marked where it first reaches each.
    public var targets: [Double]

    public init(runs: [RunSummary], axis: PlotAxis, labels: [String]?, groupSeeds: Bool, targets: [Double] = []) {
        self.runs = runs
        self.axis = axis
        self.labels = labels
        self.groupSeeds = groupSeeds
        self.targets = targets
    }

    public static let csvHeader = ["curve", "label", "runs", "total_steps", "samples", "epoch", "seconds", "wall_seconds",
                                   "train_loss", "test_loss", "test_error", "test_error_min", "test_error_max",
                                   "test_loss_min", "test_loss_max"]

    /// The curves: each run, or each group of seeds.
    public var curves: [[RunSummary]] { groupSeeds ? SeedGroup.group(runs).map(\.runs) : runs.map { [$0] } }

    /// Nil if the figure can be drawn, else why not (one line).
    public var problem: String? {
        if let labels, labels.count != curves.count {
            return "--label given \(labels.count) times for \(curves.count) \(groupSeeds ? "groups of seeds" : "runs") (give one per curve, or none)"
        }
        if let empty = runs.first(where: { $0.records.isEmpty }) { return "\(empty.dir)/metrics.jsonl holds no records yet" }
        if axis == .seconds, let virtual = runs.first(where: \.isVirtual), let wall = runs.first(where: { !$0.isVirtual }) {
            return "\(virtual.dir) ran on the simulated clock (virtual seconds) and \(wall.dir) on the wall clock: one time axis cannot hold both (use --x steps or --x epochs, or plot them apart)"
        }
        return nil
    }

    /// The x axis's label: virtual seconds when every run is simulated.
    public var xLabel: String {
        switch axis {
        case .seconds: runs.allSatisfy(\.isVirtual) ? "virtual seconds (simulated clock)" : "wall-clock training time (s)"
        case .epochs: RunPlot.epochsLabel(runs.map(\.trainSubset))
        case .steps: runs.contains(where: { $0.workers > 1 }) ? "worker steps in total" : "steps"
        }
    }

    /// Which epochs the axis counts: passes over the whole training set, or over the runs' subsets.
    static func epochsLabel(_ subsets: [Int?]) -> String {
        let sizes = Set(subsets.map { $0 ?? 0 })
        if sizes == [0] { return "epochs (passes over the whole training set)" }
        if sizes.count == 1, let n = sizes.first { return "epochs (passes over the \(n)-image training subset)" }
        return "epochs (passes over each run's training set or subset)"
    }

    public var columns: RunCurves.Columns {
        let x = switch axis { case .seconds: 7; case .epochs: 6; case .steps: 4 }
        return RunCurves.Columns(x: x, testError: 11, testLoss: 10, trainLoss: 9, testErrorBand: (12, 13), testLossBand: (14, 15))
    }

    /// The CSV, the copy gnuplot reads (the label column left empty: gnuplot reads a file line by line, so a label
    /// holding a line break, quoted as CSV allows, would split its row), and the blocks. A group is drawn at the
    /// evaluation steps every one of its runs has.
    public func data() throws -> (csv: CSV, plotted: CSV, blocks: [RunBlock]) {
        let (csv, plotted, blocks, _) = try curveData()
        return (csv, plotted, blocks)
    }

    /// `data()` and where each curve (the mean of a group) first reaches each target: (curve, x, test error).
    func curveData() throws -> (csv: CSV, plotted: CSV, blocks: [RunBlock], marks: [TargetMark]) {
        var marks: [TargetMark] = []
        var csv = CSV(header: Self.csvHeader), plotted = CSV(header: Self.csvHeader)
        var blocks: [RunBlock] = []
        var row = 0
        for (i, curve) in curves.enumerated() {
            let name = labels?[i] ?? URL(fileURLWithPath: curve[0].dir).lastPathComponent + (curve.count > 1 ? " (\(curve.count) seeds)" : "")
            let shared = SeedGroup.sharedEvaluations(curve.map(\.records))
            guard !shared.isEmpty else {
                throw SettingsError("the runs \(curve.map(\.dir).joined(separator: ", ")) share no evaluation step, so their seeds cannot be averaged")
            }
            var unmarked = targets
            for records in shared {
                let step = records[0].step
                func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
                let error = records.map(\.testError), loss = records.map(\.testLoss)
                let meanError = mean(error)
                if meanError.isFinite, unmarked.contains(where: { meanError <= $0 }) {
                    let x = switch axis {
                    case .seconds: mean(records.map(\.seconds)); case .epochs: mean(records.map(\.epoch)); case .steps: Double(step)
                    }
                    marks.append(TargetMark(curve: i, x: x, testError: meanError))
                    unmarked.removeAll { meanError <= $0 }
                }
                let train = records.compactMap(\.trainLoss)
                func n(_ v: Double) throws -> String { v.isFinite ? try number(v) : "" }
                let values = [String(curve.count), String(step), String(records[0].samples),
                              try n(mean(records.map(\.epoch))), try n(mean(records.map(\.seconds))), try n(mean(records.map(\.wallSeconds))),
                              train.count == records.count ? try n(mean(train)) : "", try n(mean(loss)), try n(mean(error)),
                              try n(error.min()!), try n(error.max()!), try n(loss.min()!), try n(loss.max()!)]
                csv.row([String(i), CSV.quote(name)] + values)
                plotted.row([String(i), ""] + values)
            }
            blocks.append(RunBlock(title: name, firstRow: row, lastRow: row + shared.count - 1, band: curve.count > 1,
                                   colour: colours?[i]))
            row += shared.count
        }
        return (csv, plotted, blocks, marks)
    }

    /// Each curve's colour when the figure compares methods: one hue per method, a shade per curve of that method
    /// (darkest for the smallest p, then τ, then η), so that a reader finds a method by colour and its settings by
    /// shade; nil when every curve is one method (each then gets a colour of its own), or when a method has more
    /// curves than its hue has shades (two curves of one colour would be told apart by nothing).
    var colours: [String]? {
        let methods = curves.map { RunPlot.hue(of: $0[0]) }
        guard Set(methods).count > 1 else { return nil }
        var shadeOf: [Int: Int] = [:]
        for method in Set(methods) {
            let mine = curves.indices.filter { methods[$0] == method }
                .sorted { (curves[$0][0].workers, curves[$0][0].tau ?? 0, curves[$0][0].learningRate, $0)
                          < (curves[$1][0].workers, curves[$1][0].tau ?? 0, curves[$1][0].learningRate, $1) }
            guard mine.count <= (RunPlot.hues[method] ?? RunPlot.hues["other"]!).count else { return nil }
            for (k, i) in mine.enumerated() { shadeOf[i] = k }
        }
        return curves.indices.map { i in
            let shades = RunPlot.hues[methods[i]] ?? RunPlot.hues["other"]!
            return shades[shadeOf[i]!]
        }
    }

    /// The hue a run takes: its method's, except DiLoCo with an outer step other than its own Nesterov (synchronous
    /// SGD as H = 1 with outer SGD at rate 1, Local SGD, SlowMo's heavy ball), which takes grey, apart from DiLoCo.
    static func hue(of run: RunSummary) -> String {
        if run.method == .diloco, let outer = run.outer, outer.optimizer != .nesterov { return "other" }
        return run.method.rawValue
    }

    /// ColorBrewer's sequential hues, darkest first: EASGD blue, EAMSGD red, the DOWNPOUR family green, purple
    /// and brown, DiLoCo yellow-orange-brown, the sequential methods (and DiLoCo with another outer step) grey.
    static let hues: [String: [String]] = [
        "diloco": ["#662506", "#cc4c02", "#fe9929", "#fec44f"],
        "easgd": ["#08519c", "#3182bd", "#6baed6", "#9ecae1"], "sync-easgd": ["#08519c", "#3182bd", "#6baed6", "#9ecae1"],
        "eamsgd": ["#a50f15", "#de2d26", "#fb6a4a", "#fcae91"],
        "downpour": ["#006d2c", "#31a354", "#74c476", "#a1d99b"], "mdownpour": ["#54278f", "#756bb1", "#9e9ac8", "#bcbddc"],
        "adownpour": ["#8c510a", "#bf812d", "#dfc27d", "#f6e8c3"], "mvadownpour": ["#8c510a", "#bf812d", "#dfc27d", "#f6e8c3"],
        "other": ["#252525", "#636363", "#969696", "#bdbdbd"],
    ]

    /// Writes PREFIX.csv and PREFIX.<format> for each format; returns the figures that gnuplot could not draw.
    public func write(prefix: String, formats: [Terminal], title: String, style: RunCurves.Style) throws -> [String] {
        let (csv, plotted, blocks, marks) = try curveData()
        let transaction = OutputTransaction()
        try transaction.write(csv.text, to: prefix + ".csv")
        let temporary = try transaction.scratch(plotted.text, beside: prefix)
        var warnings: [String] = []
        var style = style
        let losses = curves.joined().flatMap(\.records).flatMap { [$0.testLoss, $0.trainLoss ?? $0.testLoss] }.filter { $0.isFinite && $0 > 0 }
        if let low = losses.min(), let high = losses.max(), high > low { style.lossData = low...high }
        for format in formats {
            if let w = stageFigure("\(prefix).\(format.rawValue)", transaction: transaction, {
                RunCurves.script(csv: temporary, runs: blocks, columns: columns, xLabel: xLabel, title: title, style: style,
                                 targets: targets, marks: marks, output: $0, terminal: format)
            }) { warnings.append(w) }
        }
        try transaction.commit()
        return warnings
    }
}

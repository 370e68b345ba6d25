// easgd plot: test error and losses of several training runs against time in one figure.

import Analysis
import ArgumentParser
import Records
import Foundation
import Plotting
import Training

enum PlotAxis: String, ExpressibleByArgument, CaseIterable {
    case seconds, epochs, steps
}

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot test error and losses of training runs against wall-clock time.",
        discussion: """
            Reads RUN_DIR/metrics.jsonl of each run and writes PREFIX.csv (all runs, one block of rows per run: \
            run, label, step, samples, epoch, seconds, wall_seconds, train_loss, test_loss, test_error) and \
            PREFIX.png (left: test error; right: test loss solid, train loss dashed). The time axis is the \
            training time (evaluation and checkpoints excluded). Example:
              easgd plot runs/msgd runs/asgd --label MSGD --label ASGD --out plots/fashion
            """
    )

    @Argument(help: "Run directories (each with metrics.jsonl).") var runs: [String]
    @Option(help: "Output prefix (PREFIX.png and PREFIX.csv).") var out = "plot"
    @Option(help: "x axis: seconds (training wall-clock), epochs or steps.") var x: PlotAxis = .seconds
    @Option(name: .customLong("label"), help: "A curve label; repeat once per run, in order (default: the directory names).")
    var labels: [String] = []
    @Option(help: "Figure title.") var title: String?

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("give at least one run directory") }
        if !labels.isEmpty, labels.count != runs.count {
            throw ValidationError("--label given \(labels.count) times for \(runs.count) runs (give one per run, or none)")
        }
        try OutputPath.checkParent(of: out, for: out)
    }

    func run() throws {
        let names = labels.isEmpty ? runs.map { URL(fileURLWithPath: $0).lastPathComponent } : labels
        var csv = CSV(header: ["run", "label", "step", "samples", "epoch", "seconds", "wall_seconds",
                               "train_loss", "test_loss", "test_error"])
        var blocks: [RunBlock] = []
        var row = 0
        for (i, dir) in runs.enumerated() {
            let records = try RunFiles.readMetrics(dir)
            guard !records.isEmpty else { throw ValidationError("\(dir)/metrics.jsonl holds no records yet") }
            for r in records {
                csv.row([String(i), CSV.quote(names[i]), String(r.step), String(r.samples), try number(r.epoch),
                         try number(r.seconds), try number(r.wallSeconds), try r.trainLoss.map(number) ?? "",
                         try number(r.testLoss), try number(r.testError)])
            }
            blocks.append(RunBlock(title: names[i], firstRow: row, lastRow: row + records.count - 1))
            row += records.count
        }
        let transaction = OutputTransaction()
        let csvTemporary = try transaction.write(csv.text, to: out + ".csv")
        let (column, label): (Int, String) = switch x {
        case .seconds: (6, "training time (s)")
        case .epochs: (5, "epochs")
        case .steps: (3, "steps")
        }
        let warning = stageFigure(out + ".png", transaction: transaction) {
            RunCurves.script(csv: csvTemporary, runs: blocks, xColumn: column, xLabel: label, testError: 10,
                             testLoss: 9, trainLoss: 8, title: title ?? runs.joined(separator: ", "),
                             output: $0, terminal: .png)
        }
        try transaction.commit()
        printError("wrote \(out).csv" + (warning == nil ? ", \(out).png" : ""))
        if let warning { throw FigureNotDrawn(warnings: [warning]) }
    }
}

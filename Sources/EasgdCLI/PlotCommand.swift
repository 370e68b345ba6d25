// easgd plot: test error and losses of several training runs against time in one figure.

import Analysis
import ArgumentParser
import Plotting
import Records

extension PlotAxis: ExpressibleByArgument {}
extension RunCurves.Legend: ExpressibleByArgument {}

/// `png,svg,pdf`: the figure formats to write.
struct FormatList: ExpressibleByArgument {
    var formats: [Terminal]
    init?(argument: String) {
        let list = argument.split(separator: ",").map { Terminal(rawValue: String($0).trimmingCharacters(in: .whitespaces)) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil }) else { return nil }
        formats = list.map { $0! }
    }
    var defaultValueDescription: String { formats.map(\.rawValue).joined(separator: ",") }
}

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot test error and losses of training runs against time, epochs or steps.",
        discussion: """
            Reads each run's metrics.jsonl and config.json and writes PREFIX.csv (one block of rows per curve: \
            curve, label, runs, step, samples, epoch, seconds, wall_seconds, train_loss, test_loss, test_error and \
            the min and max of test_error and test_loss over seeds) and PREFIX.png (left: test error; right: test \
            loss solid, train loss dashed). Time is the run's clock: wall-clock training time, or the simulated \
            backend's virtual seconds, said so on the axis; runs of both kinds cannot share a time axis. With \
            --group-seeds, runs that differ only in their seed are one curve: the mean at the evaluations they \
            share (each matched to the first run's nearest, within a tenth of its evaluation interval, so a run \
            continued past its budget pairs with the others), with a band from min to max. --targets 30,25 draws each test error as a dotted line and marks \
            where each curve (a group's mean) first reaches it. Examples:
              easgd plot runs/msgd runs/asgd --label MSGD --label ASGD --out plots/fashion
              easgd plot runs/easgd-s1 runs/easgd-s2 runs/easgd-s3 --group-seeds --log-y \\
                --format png,pdf --out fig
            """
    )

    @Argument(help: "Run directories (each with metrics.jsonl and config.json).") var runs: [String]
    @Option(help: "Output prefix (PREFIX.csv and a figure per --format).") var out = "plot"
    @Option(help: "x axis: seconds (the run's clock), epochs or steps.") var x: PlotAxis = .seconds
    @Option(name: .customLong("label"), help: "A curve label; repeat once per curve, in order (default: the directory names).")
    var labels: [String] = []
    @Option(help: "Figure title.") var title: String?
    @Flag(help: "Logarithmic loss axis (a diverged run then does not flatten the others).") var logY = false
    @Flag(help: "Logarithmic test-error axis too.") var logError = false
    @Option(help: "Test-error axis LO:HI in percent (default: fitted).", transform: parseRange) var errorRange: ClosedRange<Double>?
    @Option(help: "Loss axis LO:HI (default: fitted).", transform: parseRange) var lossRange: ClosedRange<Double>?
    @Option(help: "Legend: below (never over a curve), right, inside or off.") var legend: RunCurves.Legend = .below
    @Option(help: "Figure formats, comma-separated: png, svg, pdf.") var format = FormatList(argument: "png")!
    @Flag(help: "One curve per group of runs that differ only in their seed: the mean and a min–max band.") var groupSeeds = false
    @Option(help: ArgumentHelp("Test errors in percent, comma-separated: dotted lines, each curve marked where it first reaches each.",
                               valueName: "percents"), transform: parseTargets)
    var targets: [Double] = []
    @Flag(help: "Also PREFIX-sharpness.<format>: each run's sharpness (--sharpness-every) with its method's threshold h* dashed (and 2/η where it differs).")
    var sharpness = false

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("give at least one run directory") }
        if logError, let r = errorRange, r.lowerBound <= 0 { throw ValidationError("--error-range: a logarithmic axis needs LO > 0") }
        if logY, let r = lossRange, r.lowerBound <= 0 { throw ValidationError("--loss-range: a logarithmic axis needs LO > 0") }
        try OutputPath.checkPrefix(out)
    }

    func run() throws {
        let plot = RunPlot(runs: try runs.map(RunSummary.read), axis: x, labels: labels.isEmpty ? nil : labels, groupSeeds: groupSeeds,
                           targets: targets)
        if let problem = plot.problem { throw SettingsError(problem) }
        var warnings = try plot.write(prefix: out, formats: format.formats, title: title ?? runs.joined(separator: ", "),
                                      style: RunCurves.Style(logLoss: logY, logError: logError, errorRange: errorRange, lossRange: lossRange, legend: legend))
        var written = ["\(out).csv"] + format.formats.map { "\(out).\($0.rawValue)" }
        if sharpness {
            warnings += try plot.writeSharpness(prefix: out, formats: format.formats, title: title ?? runs.joined(separator: ", "), logY: logY)
            written += ["\(out)-sharpness.csv"] + format.formats.map { "\(out)-sharpness.\($0.rawValue)" }
        }
        let drawn = written.filter { f in !warnings.contains { $0.hasPrefix(f + ":") || $0.hasPrefix(f + " ") || $0 == f } }
        printError("wrote " + drawn.joined(separator: ", "))
        if !warnings.isEmpty { throw FigureNotDrawn(warnings: warnings) }
    }
}

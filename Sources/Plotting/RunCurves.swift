// Training curves of several runs in one figure: test error on the left, losses on the right, against a
// common x (seconds, epochs or steps). The data come from one CSV in which each curve occupies a contiguous
// block of rows; a curve that stands for several seeds carries min and max columns, drawn as a band.

import Foundation

public struct RunBlock: Sendable {
    public var title: String
    /// Data rows (0-based, after the header) holding this curve.
    public var firstRow: Int
    public var lastRow: Int
    /// Draw the min–max band of the columns given in `RunCurves.Columns` (a group of seeds).
    public var band: Bool
    /// The curve's colour ("#rrggbb"; nil: gnuplot's next line colour).
    public var colour: String?
    public init(title: String, firstRow: Int, lastRow: Int, band: Bool = false, colour: String? = nil) {
        self.title = title
        self.firstRow = firstRow
        self.lastRow = lastRow
        self.band = band
        self.colour = colour
    }
}

/// Where a curve first reaches a target test error: a marker on the error panel.
public struct TargetMark: Sendable, Equatable {
    public var curve: Int
    public var x: Double
    /// A fraction.
    public var testError: Double
    public init(curve: Int, x: Double, testError: Double) {
        self.curve = curve
        self.x = x
        self.testError = testError
    }
}

public enum RunCurves {
    /// 1-based column positions in the CSV. Train-loss cells may be empty (gnuplot skips them).
    public struct Columns: Sendable {
        public var x, testError, testLoss, trainLoss: Int
        /// Min and max of the test error and the test loss over a group's seeds.
        public var testErrorBand: (min: Int, max: Int)?
        public var testLossBand: (min: Int, max: Int)?
        public init(x: Int, testError: Int, testLoss: Int, trainLoss: Int, testErrorBand: (min: Int, max: Int)? = nil,
                    testLossBand: (min: Int, max: Int)? = nil) {
            self.x = x
            self.testError = testError
            self.testLoss = testLoss
            self.trainLoss = trainLoss
            self.testErrorBand = testErrorBand
            self.testLossBand = testLossBand
        }
    }

    /// Where the key goes: below the panels (default; it never covers a curve), right of them, inside, or none.
    public enum Legend: String, Sendable, CaseIterable {
        case below, right, inside, off
        var command: String {
            switch self {
            case .below: "set key below vertical box"
            case .right: "set key outside right top vertical box"
            case .inside: "set key inside top right opaque box"
            case .off: "unset key"
            }
        }
    }

    public struct Style: Sendable {
        /// Logarithmic loss axis (one diverged run no longer flattens the others), and error axis.
        public var logLoss = false
        public var logError = false
        /// Test error in percent, and the loss.
        public var errorRange: ClosedRange<Double>?
        public var lossRange: ClosedRange<Double>?
        public var legend = Legend.below
        /// The smallest and largest loss drawn (for the labels of a log axis).
        public var lossData: ClosedRange<Double>?
        public init(logLoss: Bool = false, logError: Bool = false, errorRange: ClosedRange<Double>? = nil,
                    lossRange: ClosedRange<Double>? = nil, legend: Legend = .below) {
            self.logLoss = logLoss
            self.logError = logError
            self.errorRange = errorRange
            self.lossRange = lossRange
            self.legend = legend
        }
    }

    public static func script(csv: String, runs: [RunBlock], columns c: Columns, xLabel: String, title: String,
                              style: Style = Style(), targets: [Double] = [], marks: [TargetMark] = [],
                              output: String, terminal: Terminal) -> String {
        var s: [String] = []
        // One key for both panels (a run has one colour in both), under the error panel: as many columns as its
        // longest entry lets fit under a panel (at most three), so that it never outgrows the panel; the loss panel
        // keeps the same room below, so the panels keep one height.
        let width = style.legend == .right ? 1700 : 1400
        let errorColumns = keyColumns(runs.map(\.title), samplen: 4, panelWidth: width / 2)
        let errorRows = (runs.count + errorColumns - 1) / errorColumns
        let keyRows = style.legend == .below ? errorRows : 0
        func colour(_ i: Int, _ r: RunBlock) -> String { r.colour.map { "rgb '\($0)'" } ?? "\(i + 1)" }
        s.append(terminal.setTerminal(width: width, height: 560 + 20 * keyRows))
        s.append("set output \(Gnuplot.file(output))")
        s.append("set datafile separator ','")
        s.append("set datafile missing ''")
        s.append("set multiplot layout 1,2 title \(Gnuplot.text(title))")
        s.append("set grid")
        s.append(style.legend.command)
        // Room under the x label for a key below (gnuplot's multiplot does not reserve it).
        if style.legend == .below { s.append("set bmargin \(5 + keyRows)") }
        s.append("set style fill transparent solid 0.2 noborder")
        s.append("set xlabel \(Gnuplot.quote(xLabel))")
        func rows(_ r: RunBlock) -> String { "\(Gnuplot.file(csv)) skip 1 every ::\(r.firstRow)::\(r.lastRow)" }
        func range(_ r: ClosedRange<Double>?) -> String { r.map { "set yrange [\($0.lowerBound):\($0.upperBound)]" } ?? "set yrange [*:*]" }

        if style.legend == .below { s.append("set key below vertical maxrows \(errorRows) box") }
        s.append("set ylabel \(Gnuplot.quote("test error (%)"))")
        s.append("set title \(Gnuplot.quote("test error" + (runs.contains(where: \.band) ? " (band: min to max over seeds)" : "")))")
        s.append(range(style.errorRange))
        s.append(style.logError ? "set logscale y" : "unset logscale y")
        var errors: [String] = []
        // Each target a dotted line across the panel; each curve's first evaluation at or below one, an open circle
        // in its colour (the numbers are the toolkit's own, written inline and comma-separated as the CSV is: no text
        // reaches the script).
        for t in targets where t.isFinite {
            s.append("set arrow from graph 0, first \(100 * t) to graph 1, first \(100 * t) nohead dt 3 lw 1.5 lc rgb '#555555'")
        }
        for (i, r) in runs.enumerated() {
            let mine = marks.filter { $0.curve == i && $0.x.isFinite && $0.testError.isFinite }
            guard !mine.isEmpty else { continue }
            s.append("$target\(i) << EOD\n" + mine.map { "\($0.x),\(100 * $0.testError)" }.joined(separator: "\n") + "\nEOD")
            errors.append("$target\(i) using 1:2 with points pt 6 ps 2.2 lw 2 lc \(colour(i, r)) notitle")
        }
        for (i, r) in runs.enumerated() {
            if r.band, let b = c.testErrorBand {
                errors.append("\(rows(r)) using \(c.x):(100*$\(b.min)):(100*$\(b.max)) with filledcurves lc \(colour(i, r)) notitle")
            }
            errors.append("\(rows(r)) using \(c.x):(100*$\(c.testError)) with linespoints lw 2 pt 7 ps 0.6 lc \(colour(i, r)) title \(Gnuplot.text(r.title))")
        }
        s.append("plot " + errors.joined(separator: ", \\\n     "))

        s.append("set ylabel \(Gnuplot.quote("cross-entropy loss"))")
        s.append("set title \(Gnuplot.quote("loss (solid: test, dashed: train" + (runs.contains(where: \.band) ? "; band: test, min to max over seeds)" : ")")))")
        s.append(range(style.lossRange))
        // A log axis fitted to the data (not widened to whole decades): six labels spread evenly (in log) over the
        // data, at two significant digits; without the data's range, 1, 1.5, 2, 2.5, 3, 4, 5, 7 per decade.
        if style.logLoss {
            var tics = (-3...6).flatMap { e in [1.0, 1.5, 2, 2.5, 3, 4, 5, 7].map { "\($0 * pow(10, Double(e)))" } }
            if let r = style.lossData, r.lowerBound > 0, r.upperBound > r.lowerBound {
                let (a, b) = (log(r.lowerBound), log(r.upperBound))
                tics = (0...5).map { String(format: "%.2g", exp(a + (b - a) * Double($0) / 5)) }
            }
            s.append("set logscale y\nset format y '%g'\nset ytics (\(tics.joined(separator: ", ")))\nset mytics 1")
            if style.lossRange == nil { s.append("set autoscale yfix\nset offsets 0, 0, graph 0.04, graph 0.04") }
        } else {
            s.append("unset logscale y\nset ytics auto")
        }
        if style.legend == .below { s.append("unset key") }
        var losses: [String] = []
        for (i, r) in runs.enumerated() {
            if r.band, let b = c.testLossBand {
                losses.append("\(rows(r)) using \(c.x):\(b.min):\(b.max) with filledcurves lc \(colour(i, r)) notitle")
            }
            losses.append("\(rows(r)) using \(c.x):\(c.testLoss) with lines lw 2 lc \(colour(i, r)) title \(Gnuplot.text(r.title + " test"))")
            losses.append("\(rows(r)) using \(c.x):\(c.trainLoss) with lines lw 2 dt 2 lc \(colour(i, r)) title \(Gnuplot.text(r.title + " train"))")
        }
        s.append("plot " + losses.joined(separator: ", \\\n     "))
        s.append("unset multiplot")
        s.append("set output")
        return s.joined(separator: "\n") + "\n"
    }

    /// Key columns that fit under one panel (less 40 pixels of margin): gnuplot gives every column the longest
    /// entry's width (its text at about 8 pixels a character in DejaVu Sans 11, plus the sample and the gaps).
    static func keyColumns(_ titles: [String], samplen: Int, panelWidth: Int) -> Int {
        let longest = titles.map(\.count).max() ?? 0
        return max(1, min(3, (panelWidth - 40) / (8 * (longest + samplen + 4))))
    }
}

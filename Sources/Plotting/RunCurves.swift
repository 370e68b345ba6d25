// Training curves of several runs in one figure: test error on the left, losses on the right, against a
// common x (wall-clock seconds, epochs or steps). The data come from one CSV in which each run occupies a
// contiguous block of rows.

public struct RunBlock: Sendable {
    public var title: String
    /// Data rows (0-based, after the header) holding this run.
    public var firstRow: Int
    public var lastRow: Int
    public init(title: String, firstRow: Int, lastRow: Int) {
        self.title = title
        self.firstRow = firstRow
        self.lastRow = lastRow
    }
}

public enum RunCurves {
    /// Columns are 1-based positions in `csv`; `trainLoss` may be empty in some rows (gnuplot skips them).
    public static func script(csv: String, runs: [RunBlock], xColumn: Int, xLabel: String, testError: Int,
                              testLoss: Int, trainLoss: Int, title: String, output: String, terminal: Terminal) -> String {
        var s: [String] = []
        s.append(terminal.setTerminal(width: 1400, height: 560))
        s.append("set output \(Gnuplot.quote(output))")
        s.append("set datafile separator ','")
        s.append("set datafile missing ''")
        s.append("set multiplot layout 1,2 title \(Gnuplot.quote(title))")
        s.append("set grid")
        s.append("set key top right opaque box")
        s.append("set xlabel \(Gnuplot.quote(xLabel))")
        func range(_ r: RunBlock) -> String { "skip 1 every ::\(r.firstRow)::\(r.lastRow)" }
        s.append("set ylabel 'test error (%)'")
        s.append("set title 'test error'")
        let errors = runs.enumerated().map { i, r in
            "\(Gnuplot.quote(csv)) \(range(r)) using \(xColumn):(100*$\(testError)) with linespoints lw 2 pt 7 ps 0.6 lc \(i + 1) title \(Gnuplot.quote(r.title))"
        }
        s.append("plot " + errors.joined(separator: ", \\\n     "))
        s.append("set ylabel 'cross-entropy loss'")
        s.append("set title 'loss (solid: test, dashed: train, as each run records it)'")
        var losses: [String] = []
        for (i, r) in runs.enumerated() {
            losses.append("\(Gnuplot.quote(csv)) \(range(r)) using \(xColumn):\(testLoss) with lines lw 2 lc \(i + 1) title \(Gnuplot.quote(r.title + " test"))")
            losses.append("\(Gnuplot.quote(csv)) \(range(r)) using \(xColumn):\(trainLoss) with lines lw 2 dt 2 lc \(i + 1) title \(Gnuplot.quote(r.title + " train"))")
        }
        s.append("plot " + losses.joined(separator: ", \\\n     "))
        s.append("unset multiplot")
        s.append("set output")
        return s.joined(separator: "\n") + "\n"
    }
}

// Line figures: one or more CSV series against a common x, optionally with reference lines.

import Foundation

public struct LineSeries: Sendable {
    public var csv: String
    public var xColumn: Int
    public var yColumn: Int
    public var title: String
    /// gnuplot line type (its colour), when series and reference lines must match; nil: the next one.
    public var lineType: Int?
    /// Drawn dashed and as steps (each value held until the next point), as reference lines are: a threshold
    /// that moves with the run's learning rate, which changes at the records.
    public var dashed: Bool
    /// An explicit colour ("#rrggbb"), over `lineType`'s: shades of one hue for one method's curves.
    public var colour: String?
    public init(csv: String, xColumn: Int, yColumn: Int, title: String, lineType: Int? = nil, dashed: Bool = false,
                colour: String? = nil) {
        self.csv = csv
        self.xColumn = xColumn
        self.yColumn = yColumn
        self.title = title
        self.lineType = lineType
        self.dashed = dashed
        self.colour = colour
    }
}

/// A dashed reference line: a gnuplot expression of x (a constant for a threshold), its title, and its line type
/// (nil: the next one), so that it can share a series' colour.
public struct LineReference: Sendable {
    public var expression: String
    public var title: String
    public var lineType: Int?
    public init(_ expression: String, _ title: String, lineType: Int? = nil) {
        self.expression = expression
        self.title = title
        self.lineType = lineType
    }
}

public enum LinePlot {
    public static func script(series: [LineSeries], references: [LineReference] = [],
                              title: String, xLabel: String, yLabel: String, output: String, terminal: Terminal,
                              size: (width: Int, height: Int) = (900, 600), logY: Bool = false,
                              markers: [(x: Double, y: Double, title: String)] = []) -> String {
        var s: [String] = []
        s.append(terminal.setTerminal(width: size.width, height: size.height))
        s.append("set output \(Gnuplot.file(output))")
        s.append("set datafile separator ','")
        s.append("set title \(Gnuplot.quote(title))")
        s.append("set xlabel \(Gnuplot.quote(xLabel))")
        s.append("set ylabel \(Gnuplot.quote(yLabel))")
        // Under the axes and under the x axis's label, with room of its own: it hides no curve and no label.
        // Two columns when the entries fit side by side under the axes (RunCurves' estimate of a key's width), else
        // one; the bottom margin holds the x label and a line per row of the key.
        let titles = series.map(\.title) + references.map(\.title) + markers.map(\.title)
        let columns = min(2, RunCurves.keyColumns(titles, samplen: 4, panelWidth: size.width))
        s.append("set key at screen 0.5, 0.01 center bottom horizontal box Left reverse maxcols \(columns)")
        s.append("set bmargin \(4 + (titles.count + columns - 1) / columns)")
        s.append("set grid")
        if logY { s.append("set logscale y"); s.append("set format y '10^{%L}'") }
        s.append("set rmargin 6")
        var plots = series.map {
            "\(Gnuplot.file($0.csv)) skip 1 using \($0.xColumn):\($0.yColumn) with \($0.dashed ? "steps dt 2" : "lines") lw 2"
                + ($0.colour.map { " lc rgb '\($0)'" } ?? $0.lineType.map { " lt \($0)" } ?? "") + " title \(Gnuplot.quote($0.title))"
        }
        plots += references.map {
            "\($0.expression) with lines dt 2 lw 2\($0.lineType.map { " lt \($0)" } ?? "") title \(Gnuplot.quote($0.title))"
        }
        // One point each, from gnuplot's '+' pseudo-file restricted to its first sample.
        plots += markers.map {
            "'+' every ::0::0 using (\($0.x)):(\($0.y)) with points pt 7 ps 2.2 lc rgb 'black' title \(Gnuplot.quote($0.title))"
        }
        s.append("plot " + plots.joined(separator: ", \\\n     "))
        s.append("set output")
        return s.joined(separator: "\n") + "\n"
    }
}

// Panels of positive quantities on a log colour scale (e.g. an MSE over (ηh, β)), sharing one colour range: a
// perceptually uniform sequential map (viridis) in one band per decade, each centred on a power of ten (from
// 10^(k-1/2) to 10^(k+1/2), so that a quantity sitting at a power of ten is not speckled across two bands): equal
// steps of colour are equal ratios, and the band edges are contours a decade apart. Missing values (divergence) show the grey background; optional
// dashed curves (data files) mark boundaries.

public struct ValueMapPanel: Sendable {
    /// CSV with a header line and columns x, y, log10(value) (NaN where there is no value), x fastest.
    public var csv: String
    public var title: String
    /// Curves drawn dashed: CSV files (header line; x in column 1, y in column 2), with their titles.
    public var curves: [(csv: String, title: String)]
    public init(csv: String, title: String, curves: [(csv: String, title: String)] = []) {
        self.csv = csv
        self.title = title
        self.curves = curves
    }
}

public enum ValueMaps {
    public static func script(panels: [ValueMapPanel], columns: Int, xLabel: String, yLabel: String,
                              colourLabel: String, log10Range: (Double, Double), title: String,
                              output: String, terminal: Terminal, panelSize: (Int, Int) = (420, 360)) -> String {
        let rows = (panels.count + columns - 1) / columns
        var s: [String] = []
        s.append(terminal.setTerminal(width: panelSize.0 * columns, height: panelSize.1 * rows + 50))
        s.append("set output \(Gnuplot.file(output))")
        s.append("set datafile separator ','")
        let (low, high) = ValueMaps.decades(log10Range)
        s.append("set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')")
        s.append("set palette maxcolors \(high - low + 1)")
        s.append("set cbrange [\(Double(low) - 0.5):\(Double(high) + 0.5)]")
        s.append("set cbtics \(max(1, (high - low + 7) / 8))")
        s.append("set format cb '10^{%.0f}'")
        s.append("set cblabel \(Gnuplot.quote(colourLabel))")
        s.append("set tics out")
        s.append("set xlabel \(Gnuplot.quote(xLabel)) offset 0,0.5")
        s.append("set ylabel \(Gnuplot.quote(yLabel)) offset 1,0")
        s.append("set object 1 rectangle from graph 0,0 to graph 1,1 behind fillcolor rgb '#bdbdbd' fillstyle solid noborder")
        s.append("set multiplot layout \(rows),\(columns) title \(Gnuplot.quote(title)) font ',13'")
        s.append("unset key")
        for (k, panel) in panels.enumerated() {
            s.append("set title \(Gnuplot.quote(panel.title)) font ',11'")
            s.append("set autoscale xfix; set autoscale yfix")
            // One colour bar per row, on the last panel; the scale is shared, and every panel keeps the bar's room
            // (and its title's), so the panels are the same size.
            s.append("set rmargin 11")
            s.append(k % columns == columns - 1 || k == panels.count - 1 ? "set colorbox" : "unset colorbox")
            var plots = ["\(Gnuplot.file(panel.csv)) skip 1 using 1:2:3 with image notitle"]
            for c in panel.curves {
                plots.append("\(Gnuplot.file(c.csv)) skip 1 using 1:2 with lines dt 2 lw 1.5 lc rgb 'black' title \(Gnuplot.quote(c.title))")
            }
            s.append("plot " + plots.joined(separator: ", \\\n     "))
        }
        s.append("unset multiplot")
        s.append("set output")
        return s.joined(separator: "\n") + "\n"
    }

    /// The whole decades covering a range of log10 values (at least one).
    static func decades(_ range: (Double, Double)) -> (Int, Int) {
        let low = Int(range.0.rounded(.down)), high = Int(range.1.rounded(.up))
        return (low, max(high, low + 1))
    }
}

// Spectral-radius heat maps: a diverging colour scale centred at radius 1 — blue stable (linear from the smallest
// radius to white at 1), red unstable (logarithmic in the radius, so a band just past the boundary is as visibly
// red as the decades beyond it) — the exactly traced boundary drawn on top. Panels side by side share one scale.

import Foundation

/// A regular grid in a binary file of little-endian Float64, x fastest, holding each point's colour coordinate
/// (`HeatMap.colourGrid`): gnuplot reads it as an array with nothing to parse or evaluate per point (a user function
/// in `using` costs gnuplot three signal-mask system calls per point, 1.4 s for a million). The first value's
/// centre is at (x0, y0) in plotted coordinates (log10 x on a log axis).
public struct BinaryGrid: Sendable {
    public var path: String
    public var columns: Int, rows: Int
    public var x0: Double, dx: Double, y0: Double, dy: Double
    public init(path: String, columns: Int, rows: Int, x0: Double, dx: Double, y0: Double, dy: Double) {
        (self.path, self.columns, self.rows, self.x0, self.dx, self.y0, self.dy) = (path, columns, rows, x0, dx, y0, dy)
    }
}

public struct HeatMapPanel: Sendable {
    /// CSV with a header line and columns x, y, value, in row order (x fastest).
    public var csv: String
    /// The same values as a binary grid, when there is one: the figure reads it instead of the CSV.
    public var grid: BinaryGrid?
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logX: Bool
    public var minValue: Double
    public var maxValue: Double
    /// What the colour shows, for the colour bar's title (gnuplot enhanced text).
    public var quantity: String
    /// Optional CSV (header line; x in column 1, y in column 2) of boundary points drawn over the map.
    public var boundaryCSV: String?
    /// Optional reference curves drawn dashed over the map: CSV files (header line; x in column 1, y in
    /// column 2), with their titles.
    public var curves: [(csv: String, title: String)]
    /// Points drawn over everything (a run placed on its map), at data coordinates (x not yet logged).
    public var markers: [(x: Double, y: Double, title: String)]
    /// Sets of points from CSV files (header line; x in column 1, y in column 2, x not yet logged), each with a
    /// title and a gnuplot point style (e.g. "pt 6 ps 1.5 lc rgb 'black'"): observed outcomes over a map.
    public var pointSets: [(csv: String, title: String, style: String)] = []

    public init(csv: String, title: String, xLabel: String, yLabel: String, logX: Bool = false,
                minValue: Double, maxValue: Double, quantity: String = "spectral radius {/Symbol r}(F)", boundaryCSV: String? = nil,
                curves: [(csv: String, title: String)] = [], markers: [(x: Double, y: Double, title: String)] = []) {
        self.csv = csv
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logX = logX
        self.minValue = minValue
        self.maxValue = maxValue
        self.quantity = quantity
        self.boundaryCSV = boundaryCSV
        self.curves = curves
        self.markers = markers
    }
}

public enum HeatMap {
    /// The gnuplot script drawing `panels` in a grid of `columns` columns into `output`.
    public static func script(panels: [HeatMapPanel], columns: Int, output: String, terminal: Terminal,
                              panelSize: (width: Int, height: Int) = (760, 600), title: String? = nil) -> String {
        precondition(!panels.isEmpty && columns >= 1, "nothing to draw")
        let rows = (panels.count + columns - 1) / columns
        // Every panel keeps the same margins, so panels side by side are the same size whether or not they have a
        // key below or the colour bar beside them.
        let anyKey = panels.contains { $0.boundaryCSV != nil || !$0.curves.isEmpty || !$0.markers.isEmpty || !$0.pointSets.isEmpty }
        // Room under the x label for the key: a line per entry when they stack (gnuplot stacks long ones).
        let bottom = max(6, 4 + (panels.map { ($0.boundaryCSV == nil ? 0 : 1) + $0.curves.count + $0.markers.count + $0.pointSets.count }.max() ?? 0))
        var s: [String] = []
        s.append(terminal.setTerminal(width: panelSize.width * columns, height: panelSize.height * rows + (title == nil ? 0 : 40)))
        s.append("set output \(Gnuplot.file(output))")
        s.append("set datafile separator ','")
        s.append("set tics out")
        if let title { s.append("set multiplot layout \(rows),\(columns) title \(Gnuplot.quote(title)) font ',14'") }
        else { s.append("set multiplot layout \(rows),\(columns)") }
        for (k, panel) in panels.enumerated() {
            let scale = ColourScale(minValue: panel.minValue, maxValue: panel.maxValue)
            s.append("below = \(scale.below); logabove = \(scale.logAbove)")
            // A panel whose radii are all on one side of 1 shows only that side of the scale: both the range and
            // the palette are cut at 1 (gnuplot stretches a palette over whatever range it is given).
            let (lower, upper) = (panel.minValue < 1 ? -1 : 0, panel.maxValue > 1 ? 1 : 0)
            let stops = HeatMap.palette.filter { $0.at >= Double(lower) && $0.at <= Double(upper) }
            s.append("set palette defined (" + stops.map { "\($0.at) '\($0.colour)'" }.joined(separator: ", ") + ")")
            s.append("set cbrange [\(lower):\(upper)]")
            s.append("twoslope(r) = r < 1 ? (r - 1) / below : log(r) / logabove")
            s.append("set title \(Gnuplot.quote(panel.title))")
            s.append("set xlabel \(Gnuplot.quote(panel.logX ? "log_{10} " + panel.xLabel : panel.xLabel))")
            s.append("set ylabel \(Gnuplot.quote(panel.yLabel))")
            // One colour bar per row of panels (they share the scale), beside the last; every panel keeps the room.
            s.append("set rmargin 15")
            let lastInRow = k % columns == columns - 1 || k == panels.count - 1
            s.append(lastInRow ? "set colorbox" : "unset colorbox")
            s.append("set cblabel \(Gnuplot.quote(panel.quantity)) rotate by -90 offset 1,0")
            // The key goes under the panel, where it hides no point of the map.
            let keyed = panel.boundaryCSV != nil || !panel.curves.isEmpty || !panel.markers.isEmpty || !panel.pointSets.isEmpty
            s.append(keyed ? "set key outside below center horizontal box" : "unset key")
            s.append(anyKey ? "set bmargin \(bottom)" : "unset bmargin")
            s.append("set cbtics (" + scale.tics.map { "\(Gnuplot.quote($0.label)) \($0.at)" }.joined(separator: ", ") + ")")
            s.append("set autoscale xfix; set autoscale yfix")
            // Points on the grid's edges (validate's outcomes, a run) are drawn whole, a little inside the border.
            let points = !panel.pointSets.isEmpty || !panel.markers.isEmpty
            s.append(points ? "set offsets graph 0.03, graph 0.03, graph 0.03, graph 0.03" : "set offsets 0, 0, 0, 0")
            let x = panel.logX ? "(log10($1))" : "1"
            var plots: [String]
            if let g = panel.grid {
                plots = ["\(Gnuplot.file(g.path)) binary array=(\(g.columns),\(g.rows)) format='%float64' endian=little "
                         + "origin=(\(g.x0),\(g.y0)) dx=\(g.dx) dy=\(g.dy) using 1 with image notitle"]
            } else {
                plots = ["\(Gnuplot.file(panel.csv)) skip 1 using \(x):2:(twoslope($3)) with image notitle"]
            }
            if let boundary = panel.boundaryCSV {
                let bx = panel.logX ? "(log10($1))" : "1"
                plots.append("\(Gnuplot.file(boundary)) skip 1 using \(bx):2 with points pt 7 ps 0.25 lc rgb 'black' title \(Gnuplot.quote("{/Symbol r}(F) = 1 (traced)"))")
            }
            // Drawn last and wider than the traced points, so a curve that agrees with them stays visible.
            for curve in panel.curves {
                let cx = panel.logX ? "(log10($1))" : "1"
                plots.append("\(Gnuplot.file(curve.csv)) skip 1 using \(cx):2 with lines dt (8,6) lw 3.5 lc rgb '#00c853' title \(Gnuplot.quote(curve.title))")
            }
            plots += panel.pointSets.map {
                "\(Gnuplot.file($0.csv)) skip 1 using \(panel.logX ? "(log10($1))" : "1"):2 with points \($0.style) title \(Gnuplot.quote($0.title))"
            }
            plots += panel.markers.map {
                let x = panel.logX ? log10($0.x) : $0.x
                return "'+' every ::0::0 using (\(x)):(\($0.y)) with points pt 9 ps 2.6 lc rgb 'black' title \(Gnuplot.quote($0.title))"
            }
            s.append("plot " + plots.joined(separator: ", \\\n     "))
        }
        s.append("unset multiplot")
        s.append("set output")
        return s.joined(separator: "\n") + "\n"
    }

    /// The bytes of a `BinaryGrid`: twoslope(r) of every value, as the script's twoslope computes it.
    public static func colourGrid(_ values: [Double], minValue: Double, maxValue: Double) -> Data {
        let scale = ColourScale(minValue: minValue, maxValue: maxValue)
        var data = Data(count: 8 * values.count)
        data.withUnsafeMutableBytes { raw in
            for (k, r) in values.enumerated() {
                raw.storeBytes(of: scale.coordinate(r).bitPattern.littleEndian, toByteOffset: 8 * k, as: UInt64.self)
            }
        }
        return data
    }

    /// The diverging scale on twoslope(r): −1 the smallest radius, 0 radius 1, +1 the largest. The unstable side
    /// starts at a clear red just above 0, so no unstable point is drawn as white as a marginal stable one.
    static let palette: [(at: Double, colour: String)] = [(-1, "#08306b"), (-0.5, "#6baed6"), (0, "#f7f7f7"),
                                                          (0.000001, "#fc9272"), (0.5, "#cb181d"), (1, "#67000d")]

    static func label(_ v: Double) -> String { String(format: "%.5g", v) }
}

/// The colour coordinate of a radius: (r − 1)/(1 − min) below 1 (down to −1 at the smallest), ln r / ln max above it
/// (up to 1 at the largest), and the colour bar's tics: the extremes, 1, the middle of the stable side, and the
/// decades (or the geometric middle) of the unstable side.
public struct ColourScale: Sendable {
    public var minValue: Double, maxValue: Double
    public init(minValue: Double, maxValue: Double) { (self.minValue, self.maxValue) = (minValue, maxValue) }
    var below: Double { max(1 - minValue, 1e-300) }
    var logAbove: Double { max(log(max(maxValue, 1)), 1e-300) }

    public func coordinate(_ r: Double) -> Double { r < 1 ? (r - 1) / below : log(r) / logAbove }

    public var tics: [(label: String, at: Double)] {
        var tics: [(String, Double)] = [("1", 0)]
        if minValue < 1 { tics += [(HeatMap.label(minValue), -1), (HeatMap.label(1 - below / 2), -0.5)] }
        if maxValue > 1 {
            tics.append((HeatMap.label(maxValue), 1))
            let decades = Int(log10(maxValue))
            if decades >= 1 {
                let step = max(1, (decades + 4) / 5)
                for d in stride(from: step, through: decades, by: step) where Double(d) < log10(maxValue) - 0.15 {
                    tics.append(("1e\(d)", log(pow(10, Double(d))) / logAbove))
                }
            } else {
                let middle = maxValue.squareRoot()
                tics.append((HeatMap.label(middle), 0.5))
            }
        }
        return tics
    }
}

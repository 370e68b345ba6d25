import Foundation
@testable import Plotting
import Testing

@Test func missingGnuplotSaysHowToInstallIt() {
    #expect(throws: GnuplotError.self) { try Gnuplot.locate(environment: ["PATH": "/nonexistent"]) }
    do {
        _ = try Gnuplot.locate(environment: ["EASGD_GNUPLOT": "/nonexistent/gnuplot"])
        Issue.record("expected an error")
    } catch {
        #expect("\(error)".contains("apt-get install -y gnuplot-nox"))
    }
}

/// Strings that would end a gnuplot statement, or run a shell, if they were not quoted as data.
let hostileTexts = [
    "a\nsystem(\"touch SENTINEL\")\nb", "a'\nsystem('touch SENTINEL')\n'", "a\"; system(\"touch SENTINEL\"); \"",
    "`touch SENTINEL`", "a\\\nsystem(\"touch SENTINEL\")", "a\r\nsystem(\"touch SENTINEL\")", "x @m ; é ∞ 中 \t{/Symbol r} \\ ''",
    "< touch SENTINEL", "| touch SENTINEL", "", "-", "+",
]

/// gnuplot itself reads each quoted string back: `print` writes exactly the text (so nothing ended the string or was
/// substituted), and the sentinel file that a statement escaping its string would create never appears.
@Test func quotedStringsReachGnuplotAsExactlyTheirText() throws {
    let executable = try Gnuplot.locate()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plotting-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let sentinel = dir.appendingPathComponent("pwned").path
    let texts = hostileTexts.map { $0.replacingOccurrences(of: "SENTINEL", with: sentinel) }
    for (k, text) in texts.enumerated() {
        let printed = dir.appendingPathComponent("printed-\(k)").path
        let script = dir.appendingPathComponent("s-\(k).gp").path
        try "set print \(Gnuplot.file(printed))\nprint \(Gnuplot.quote(text))\nunset print\n".write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [script]
        process.currentDirectoryURL = dir
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "text \(k)")
        #expect(try String(contentsOfFile: printed, encoding: .utf8) == text + "\n", "text \(k): \(text.debugDescription)")
    }
    #expect(!FileManager.default.fileExists(atPath: sentinel))
    // Paths are absolute, so none can name a pipe or a pseudo-file; markup characters are escaped for literal text.
    #expect(Gnuplot.file("< touch x").hasPrefix("\"/") && Gnuplot.file("-") != "\"-\"")
    #expect(Gnuplot.literal("lr_0.1 a^2 {b} @c &d ~e \\") == "lr\\_0.1 a\\^2 \\{b\\} \\@c \\&d \\~e \\\\")
}

@Test func heatMapRendersAPNG() throws {
    // `make test` installs gnuplot-nox; without it this test fails rather than passing unchecked.
    _ = try Gnuplot.locate()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plotting-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var csv = "eta,rho,radius\n"
    for j in 0..<5 { for i in 0..<5 { csv += "\(Double(i) * 0.1),\(Double(j)),\(0.99 + 0.005 * Double(i + j))\n" } }
    let data = dir.appendingPathComponent("m.csv").path
    try csv.write(toFile: data, atomically: true, encoding: .utf8)
    let png = dir.appendingPathComponent("m.png").path
    let panel = HeatMapPanel(csv: data, title: "t", xLabel: "x", yLabel: "y", minValue: 0.99, maxValue: 1.03)
    try Gnuplot.run(script: HeatMap.script(panels: [panel], columns: 1, output: png, terminal: .png))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
    #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    let svg = dir.appendingPathComponent("m.svg").path
    try Gnuplot.run(script: HeatMap.script(panels: [panel, panel], columns: 2, output: svg, terminal: .svg))
    #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("<svg"))
}

@Test func aPanelOnOneSideOfOneShowsOnlyThatSideOfTheScale() {
    // All radii below 1: blue to white, no red stop (gnuplot would stretch a full palette over the half range and
    // draw a stable map red); all above 1: white to red; both sides: the whole diverging scale.
    func palette(_ lo: Double, _ hi: Double) -> (palette: String, range: String) {
        let panel = HeatMapPanel(csv: "d.csv", title: "t", xLabel: "x", yLabel: "y", minValue: lo, maxValue: hi)
        let lines = HeatMap.script(panels: [panel], columns: 1, output: "o.png", terminal: .png).split(separator: "\n")
        return (String(lines.first { $0.hasPrefix("set palette") } ?? ""), String(lines.first { $0.hasPrefix("set cbrange") } ?? ""))
    }
    let stable = palette(0.99, 0.999)
    #expect(stable.range == "set cbrange [-1:0]" && stable.palette.contains("#08306b") && !stable.palette.contains("#67000d")
            && !stable.palette.contains("#fb6a4a"), "\(stable)")
    let unstable = palette(1.01, 1.2)
    #expect(unstable.range == "set cbrange [0:1]" && unstable.palette.contains("#67000d") && !unstable.palette.contains("#08306b"))
    let both = palette(0.9, 1.1)
    #expect(both.range == "set cbrange [-1:1]" && both.palette.contains("#67000d") && both.palette.contains("#08306b"))
    // Panels side by side share one colour bar, beside the last, titled with what it shows; every panel keeps the
    // bar's room and the key's, so the panels are the same size.
    let panel = HeatMapPanel(csv: "d.csv", title: "t", xLabel: "x", yLabel: "y", minValue: 0.9, maxValue: 1.1)
    var keyed = panel
    keyed.boundaryCSV = "b.csv"
    let script = HeatMap.script(panels: [keyed, panel], columns: 2, output: "o.png", terminal: .png)
    #expect(script.components(separatedBy: "set cblabel \"spectral radius {/Symbol r}(F)\"").count == 3)
    #expect(script.components(separatedBy: "unset colorbox").count == 2 && script.components(separatedBy: "\nset colorbox").count == 2)
    #expect(script.components(separatedBy: "set rmargin 15").count == 3 && script.components(separatedBy: "set bmargin 6").count == 3)
}

/// A map reaching ρ = 5229 (as `easgd map` of EASGD beyond its boundary does): a radius just past 1 is red, not the
/// white of a marginal stable point (the unstable side is logarithmic and starts at a clear red), and the colour
/// bar marks the decades.
@Test func aJustUnstableRadiusIsRedOnAScaleReachingThousands() throws {
    let scale = ColourScale(minValue: 0.5, maxValue: 5229)
    #expect(scale.coordinate(1.0001) > 1e-6 && scale.coordinate(1.0001) < 1e-4)
    #expect(abs(scale.coordinate(10) - log(10) / log(5229)) <= 1e-14 && scale.coordinate(5229) == 1)
    #expect(scale.coordinate(0.75) == -0.5 && scale.coordinate(0.5) == -1)
    let redStop = try #require(HeatMap.palette.first { $0.at > 0 })
    #expect(redStop.at <= 1e-6 && redStop.colour != "#f7f7f7")
    #expect(scale.tics.map(\.label).contains("1e1") && scale.tics.map(\.label).contains("1e3") && scale.tics.map(\.label).contains("5229"))
}

/// The binary grid holds the script's twoslope(r): −1 at the smallest value, 0 at 1, +1 at the largest, linear
/// below 1 and logarithmic above; and the script reads it as an array with no per-point expression.
@Test func aBinaryGridHoldsTheColourCoordinateTheScriptWouldCompute() {
    let values = [0.98, 0.99, 1.0, 1.01, 1.04]
    let data = HeatMap.colourGrid(values, minValue: 0.98, maxValue: 1.04)
    let read = (0..<values.count).map { k in
        Double(bitPattern: UInt64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self) }))
    }
    let expected = [-1, -0.5, 0, log(1.01) / log(1.04), 1.0]
    for (a, b) in zip(read, expected) { #expect(abs(a - b) <= 1e-12, "\(read)") }
    var panel = HeatMapPanel(csv: "unused.csv", title: "t", xLabel: "x", yLabel: "y", minValue: 0.98, maxValue: 1.04)
    panel.grid = BinaryGrid(path: "/d/g.bin", columns: 5, rows: 1, x0: 0, dx: 1, y0: 0, dy: 1)
    let script = HeatMap.script(panels: [panel], columns: 1, output: "o.png", terminal: .png)
    #expect(script.contains("\"/d/g.bin\" binary array=(5,1) format='%float64'") && script.contains("using 1 with image"))
    #expect(!script.contains("unused.csv"))
}

/// gnuplot's SVG of a run plot of one three-point run per title (each run's error a little lower than the last).
func runPlotSVG(titles: [String]) throws -> String {
    _ = try Gnuplot.locate()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plotting-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var csv = "x,error,test,train\n"
    for k in titles.indices {
        for i in 0..<3 { csv += "\(i),\(0.9 - 0.2 * Double(i) - 0.01 * Double(k)),\(2.3 - 0.5 * Double(i)),\(2.2 - 0.5 * Double(i))\n" }
    }
    let data = dir.appendingPathComponent("runs.csv").path, svg = dir.appendingPathComponent("runs.svg").path
    try csv.write(toFile: data, atomically: true, encoding: .utf8)
    let blocks = titles.enumerated().map { RunBlock(title: $1, firstRow: 3 * $0, lastRow: 3 * $0 + 2) }
    try Gnuplot.run(script: RunCurves.script(csv: data, runs: blocks, columns: .init(x: 1, testError: 2, testLoss: 3, trainLoss: 4),
                                             xLabel: "x", title: "t", output: svg, terminal: .svg))
    return try String(contentsOfFile: svg, encoding: .utf8)
}

/// A run plot's one key (under the error panel; a run has one colour in both panels) stays under that panel: three
/// runs whose titles are as long as the campaign's ("EAMSGD, lr 0.016 (2 seeds)") put a third column past the left
/// panel's edge when the key took three columns whatever their width. Checked on gnuplot's own SVG: each key sample
/// ends inside its panel. (Until 2026-12-06 the loss panel had a key of its own, two entries a run: Figure 3's
/// eighteen outgrew its panel.)
@Test func aRunPlotsKeyStaysUnderItsPanel() throws {
    let titles = ["EASGD, lr 0.1 (2 seeds)", "EAMSGD, lr 0.016 (2 seeds)", "DOWNPOUR, lr 0.02 (2 seeds)"]
    let text = try runPlotSVG(titles: titles)
    // Each key entry: <title>TITLE</title>, its text, then a path whose first segment is the sample, M x0,y L x1,y.
    var ends: [(String, Double)] = []
    for title in titles {
        let start = try #require(text.range(of: "<title>\(title)</title>"), "no key entry \(title)")
        let rest = text[start.upperBound...]
        let path = try #require(rest.range(of: "d='M"), "no sample for \(title)")
        let segment = rest[path.upperBound...].prefix(60)
        let l = try #require(segment.range(of: " L"))
        let end = try #require(Double(segment[l.upperBound...].prefix { $0 != "," }))
        ends.append((title, end))
    }
    for (title, end) in ends {
        #expect(end < 700, "the key entry \(title) ends at x = \(end), past its panel's edge at 700")
    }
}

@Test func twelveRunsTakeTwelveColours() throws {
    // gnuplot's own colours repeat after eight (`lc N`); Figure 3 draws nine runs. Gnuplot.run defines 9–12.
    let titles = (1...12).map { "run \($0)" }
    let text = try runPlotSVG(titles: titles)
    // In gnuplot's SVG each curve is a group: <title>TITLE</title>, then its key sample and line, stroke='rgb(r, g, b)'.
    var strokes: [String] = []
    for title in titles {
        let start = try #require(text.range(of: "<title>\(title)</title>"), "no curve \(title)")
        let rest = text[start.upperBound...]
        let open = try #require(rest.range(of: "stroke='rgb("), "no stroke for \(title)")
        strokes.append(String(rest[open.upperBound...].prefix { $0 != ")" }))
    }
    #expect(Set(strokes).count == 12, "\(strokes)")
}

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

@Test func quotingDoublesSingleQuotes() {
    #expect(Gnuplot.quote("it's") == "'it''s'")
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
    // Every colour bar has a title.
    let panel = HeatMapPanel(csv: "d.csv", title: "t", xLabel: "x", yLabel: "y", minValue: 0.9, maxValue: 1.1)
    let script = HeatMap.script(panels: [panel, panel], columns: 2, output: "o.png", terminal: .png)
    #expect(script.components(separatedBy: "set cblabel '{/Symbol r}(F)'").count == 3)
}

/// The binary grid holds the script's twoslope(r): −1 at the smallest value, 0 at 1, +1 at the largest, linear on
/// each side; and the script reads it as an array with no per-point expression.
@Test func aBinaryGridHoldsTheColourCoordinateTheScriptWouldCompute() {
    let values = [0.98, 0.99, 1.0, 1.01, 1.04]
    let data = HeatMap.colourGrid(values, minValue: 0.98, maxValue: 1.04)
    let read = (0..<values.count).map { k in
        Double(bitPattern: UInt64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self) }))
    }
    let expected = [-1, -0.5, 0, 0.25, 1.0]
    for (a, b) in zip(read, expected) { #expect(abs(a - b) <= 1e-12, "\(read)") }
    var panel = HeatMapPanel(csv: "unused.csv", title: "t", xLabel: "x", yLabel: "y", minValue: 0.98, maxValue: 1.04)
    panel.grid = BinaryGrid(path: "g.bin", columns: 5, rows: 1, x0: 0, dx: 1, y0: 0, dy: 1)
    let script = HeatMap.script(panels: [panel], columns: 1, output: "o.png", terminal: .png)
    #expect(script.contains("'g.bin' binary array=(5,1) format='%float64'") && script.contains("using 1 with image"))
    #expect(!script.contains("unused.csv"))
}

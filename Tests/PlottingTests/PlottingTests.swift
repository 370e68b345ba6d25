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

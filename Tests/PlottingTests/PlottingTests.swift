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

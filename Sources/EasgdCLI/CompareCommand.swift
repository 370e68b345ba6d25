// easgd compare: EASGD and ADMM side by side on the same (η, ρ) grid for each p, in one figure.

import ArgumentParser
import Dynamics
import Foundation
import Plotting

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Stability maps of ADMM and EASGD side by side for several p (the paper's Figure 1 and its EASGD counterpart).",
        discussion: """
            For each p writes DIR/admm-pP.{csv,json}, DIR/admm-pP-boundary.csv and the same for easgd (α = ηρ), then
            DIR/compare.png with one row per p, and prints a summary table.
              easgd compare --workers 3,8 --out plots/figure1
            """
    )

    @Option(help: "Comma-separated worker counts, e.g. 3,8.") var workers: WorkerList
    @Option(help: "η range LO:HI.") var eta = ParameterRange(lower: 1e-5, upper: 0.01)
    @Option(help: "ρ range LO:HI (EASGD uses α = ηρ).") var rho = ParameterRange(lower: 0.01, upper: 10)
    @Option(help: "Grid NxM for every map.") var grid = GridSize(etaPoints: 200, secondPoints: 200)
    @Option(help: "Curvature h of F(x) = h·x²/2.") var h: Double = 1
    @Flag(help: "Space η logarithmically.") var logEta = false
    @Flag(help: "Also write compare.svg.") var svg = false
    @Option(help: "Output directory (created if its parent exists).") var out: String

    func validate() throws {
        for p in workers.counts { try checkWorkers(p) }
        guard Set(workers.counts).count == workers.counts.count else { throw ValidationError("--workers lists a value twice") }
        try checkPositive("--h", h)
        try grid.validate()
        try checkRange("--eta", eta, positiveLower: logEta)
        try checkRange("--rho", rho)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("--out \(out) exists and is not a directory") }
            try checkDirectory(out, for: "into \(out)")
        } else {
            let parent = (out as NSString).deletingLastPathComponent
            try checkDirectory(parent.isEmpty ? "." : parent, for: out)
        }
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let transaction = OutputTransaction()
        var panels: [HeatMapPanel] = []
        var rows: [[String]] = []
        for p in workers.counts {
            for method in [Method.admm, .easgd] {
                let options = MapOptions(method: method, workers: p, eta: eta, second: rho, secondKind: .rho,
                                         grid: grid, h: h, logEta: logEta)
                let computed = try computeMap(options)
                let prefix = "\(out)/\(method.rawValue)-p\(p)"
                var panel = try stageMapData(computed, prefix: prefix, transaction: transaction)
                if method == .easgd { panel.title += " ({/Symbol a} = {/Symbol hr})" }
                panels.append(panel)
                try transaction.write(try mapSummary(computed).render() + "\n", to: prefix + ".json")
                let map = computed.map
                rows.append([method.rawValue, String(p), formatFraction(map.unstableFraction),
                             try number(map.maxRadius), try number(map.minRadius), String(computed.boundary.count),
                             String(format: "%.3f", map.seconds)])
            }
        }
        var warnings: [String] = []
        let figureTitle = "Colour: largest |eigenvalue| {/Symbol r}(F) of the round map on F(x) = \(h == 1 ? "" : "\(h)·")x^2/2 (blue stable, red unstable)"
        for terminal in svg ? [Terminal.png, .svg] : [.png] {
            if let warning = stageFigure("\(out)/compare.\(terminal.rawValue)", transaction: transaction, {
                HeatMap.script(panels: panels, columns: 2, output: $0, terminal: terminal, title: figureTitle)
            }) { warnings.append(warning) }
        }
        try transaction.commit()
        let header = ["method", "p", "unstable_fraction", "max_radius", "min_radius", "boundary_points"]
        print(table([header] + rows.map { Array($0.prefix(header.count)) }))
        printError("map seconds: " + rows.map { "\($0[0]) p=\($0[1]) \($0[6])" }.joined(separator: ", ") + "; wrote \(out)/")
        if !warnings.isEmpty { throw ExitCode(figureMissingExitCode, warnings: warnings) }
    }
}

/// Left-aligned columns separated by two spaces.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    let widths = (0..<first.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}

// easgd compare: stability maps side by side on the same grid for each p, in one figure (by default the
// paper's Figure 1, ADMM, next to EASGD).

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Foundation
import Plotting
import Records

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Stability maps side by side for several p (default: the paper's Figure 1, ADMM, next to EASGD).",
        discussion: """
            For each p and each --variant writes DIR/NAME-pP.{csv,json} and DIR/NAME-pP-boundary.csv, then \
            DIR/compare.png with one row per p and one column per variant, and prints a summary table. A variant \
            is a method with optional settings: "eamsgd delta=0.9", "easgd tau=16", "admm schedule=random". The \
            second axis is --rho (EASGD and EAMSGD use α = ηρ) or --alpha (ADMM uses ρ = α/η).
              easgd compare --workers 3,8 --out plots/figure1
              easgd compare --workers 8 --eta 0.001:2 --alpha 0.001:1 --variant "eamsgd delta=0" \
                --variant "eamsgd delta=0.9" --variant "eamsgd delta=0.99" --out plots/eamsgd
            """
    )

    @Option(help: "Comma-separated worker counts, e.g. 3,8.") var workers: WorkerList
    @Option(name: [.customLong("eta"), .customLong("lr")], help: "η range LO:HI (--lr is the same option).")
    var eta: ClosedRange<Double> = 0.00001...0.01
    @Option(help: "ρ range LO:HI (EASGD uses α = ηρ); the default second axis, 0.01:10.") var rho: ClosedRange<Double>?
    @Option(help: "α range LO:HI instead of --rho (ADMM uses ρ = α/η).") var alpha: ClosedRange<Double>?
    @Option(help: "A map to draw: METHOD [momentum=δ] [tau=τ] [schedule=round-robin|random]; repeat (default: admm, easgd).")
    var variant: [MapVariant] = []
    @Option(help: "Grid NxM for every map.") var grid = GridPoints(eta: 200, second: 200)
    @Option(help: "Curvature h of F(x) = h·x²/2.") var h: Double = 1
    @Flag(help: "Space η logarithmically.") var logEta = false
    @Flag(help: "Also write compare.svg.") var svg = false
    @Option(help: "Output directory (created if its parent exists).") var out: String

    var variants: [MapVariant] { variant.isEmpty ? [MapVariant(method: .admm), MapVariant(method: .easgd)] : variant }

    func validate() throws {
        for p in workers.counts { try checkWorkers(p) }
        guard Set(workers.counts).count == workers.counts.count else { throw ValidationError("--workers lists a value twice") }
        try checkPositive("--h", h)
        try grid.validate()
        try checkRange("--eta", eta, positiveLower: logEta)
        if rho != nil && alpha != nil { throw ValidationError("give only one of --rho or --alpha") }
        if let rho { try checkRange("--rho", rho) }
        if let alpha {
            try checkRange("--alpha", alpha)
            if eta.lowerBound == 0 { throw ValidationError("--alpha needs --eta LO > 0 (rho = alpha / eta)") }
        }
        for v in variants {
            guard v.method.hasRoundRobinMap else { throw ValidationError("\(v.method.rawValue) has no round-robin map (maps exist for \(Algorithm.names(where: \.hasRoundRobinMap)))") }
            guard v.schedule.hasMap else { throw ValidationError("schedule=clock has no map (use round-robin or random)") }
            if v.method == .downpour { throw ValidationError("DOWNPOUR has no coupling axis; map it with easgd map --method downpour --tau-range") }
            try checkSchemeExtras(method: v.method, momentum: v.momentum, tau: v.tau)
        }
        guard Set(variants.map(\.name)).count == variants.count else { throw ValidationError("--variant lists the same map twice") }
        try OutputPath.checkDirectory(out, for: "into \(out)")
    }

    func run() throws {
        try OutputPath.createDirectory(out)
        let transaction = OutputTransaction()
        var panels: [HeatMapPanel] = []
        var rows: [[String]] = []
        let second = alpha ?? rho ?? 0.01...10
        let kind: CouplingAxis = alpha != nil ? .alpha : .rho
        for p in workers.counts {
            for v in variants {
                let spec = StabilityMapSpec(method: v.method, workers: p, h: h,
                                            eta: GridAxis(eta, count: grid.eta, logarithmic: logEta),
                                            second: GridAxis(second, count: grid.second), secondKind: kind,
                                            momentum: v.momentum ?? 0, tau: v.tau, schedule: v.schedule)
                let computed = try computeMap(spec)
                let prefix = "\(out)/\(v.name)-p\(p)"
                var panel = try stageMapData(computed, prefix: prefix, transaction: transaction)
                if kind == .rho && v.method != .admm { panel.title += " ({/Symbol a} = {/Symbol hr})" }
                if kind == .alpha && v.method == .admm { panel.title += " ({/Symbol r} = {/Symbol a}/{/Symbol h})" }
                panels.append(panel)
                try transaction.write(try mapSummary(computed).render() + "\n", to: prefix + ".json")
                let map = computed.map
                rows.append([v.name, String(p), formatFraction(map.unstableFraction),
                             try number(map.maxRadius), try number(map.minRadius), String(computed.boundary.count),
                             String(format: "%.3f", map.seconds)])
            }
        }
        var warnings: [String] = []
        let random = variants.contains { $0.schedule == .random }
        let figureTitle = "Colour: largest |eigenvalue| {/Symbol r}(F) of the round map" + (random ? " (random order: mean-square radius per round)" : "")
            + " on F(x) = \(h == 1 ? "" : "\(h)·")x^2/2 (blue stable, red unstable)"
        for terminal in svg ? [Terminal.png, .svg] : [.png] {
            if let warning = stageFigure("\(out)/compare.\(terminal.rawValue)", transaction: transaction, {
                HeatMap.script(panels: panels, columns: variants.count, output: $0, terminal: terminal, title: figureTitle)
            }) { warnings.append(warning) }
        }
        try transaction.commit()
        let header = ["method", "p", "unstable_fraction", "max_radius", "min_radius", "boundary_points"]
        print(table([header] + rows.map { Array($0.prefix(header.count)) }))
        printError("map seconds: " + rows.map { "\($0[0]) p=\($0[1]) \($0[6])" }.joined(separator: ", ") + "; wrote \(out)/")
        if !warnings.isEmpty { throw ExitCode(figureMissingExitCode, warnings: warnings) }
    }
}

/// One map of a comparison: a method and its settings, e.g. "eamsgd delta=0.9 tau=4 schedule=random".
struct MapVariant: ExpressibleByArgument, Equatable {
    var method: Algorithm
    var momentum: Double?
    var tau = 1
    var schedule = Schedule.roundRobin

    init(method: Algorithm) { self.method = method }

    init?(argument: String) {
        let words = argument.split(whereSeparator: { $0 == " " || $0 == "," })
        guard let first = words.first, let m = Algorithm(rawValue: String(first).lowercased()) else { return nil }
        method = m
        for word in words.dropFirst() {
            let kv = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { return nil }
            switch kv[0].lowercased() {
            case "delta", "momentum": guard let d = Double(kv[1]) else { return nil }; momentum = d
            case "tau": guard let t = Int(kv[1]) else { return nil }; tau = t
            case "schedule": guard let s = Schedule(rawValue: kv[1]) else { return nil }; schedule = s
            default: return nil
            }
        }
    }

    /// A file-name-safe name: method, then the settings that differ from the defaults.
    var name: String {
        var parts = [method.rawValue]
        if let momentum { parts.append("delta\(momentum)") }
        if tau != 1 { parts.append("tau\(tau)") }
        if schedule == .random { parts.append("random") }
        return parts.joined(separator: "-")
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

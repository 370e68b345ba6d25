// easgd compare: stability maps side by side on the same grid for each p, in one figure (by default the
// paper's Figure 1, ADMM, next to EASGD).

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Records
import Training

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
              easgd compare --workers 8 --eta 0.001:2 --alpha 0.001:1 \\
                --variant "eamsgd delta=0" --variant "eamsgd delta=0.9" \\
                --variant "eamsgd delta=0.99" --out plots/eamsgd
            At equal communication, over (η, τ) with --tau-range (τ = DiLoCo's H): EASGD and EAMSGD with their \
            coupling fixed by beta=β (default 0.9), DOWNPOUR, and DiLoCo's family by its outer step — DiLoCo \
            (the defaults: nesterov, 0.7, 0.9), Local SGD (outer=sgd outer-lr=1), SlowMo's shape (outer=heavy-ball \
            with inner-momentum=δ), and Lookahead as the row p = 1:
              easgd compare --workers 1,4 --eta 0.001:1.99 --log-eta --tau-range 1:64 \\
                --variant easgd --variant diloco --variant "diloco outer=sgd outer-lr=1" \\
                --variant "diloco outer=heavy-ball outer-lr=1 outer-momentum=0.5" \\
                --grid 100x64 --out plots/outer/family
            """
    )

    @Option(help: "Comma-separated worker counts, e.g. 3,8.") var workers: WorkerList
    @Option(name: [.customLong("eta"), .customLong("lr")], help: "η range LO:HI (--lr is the same option).", transform: parseRange)
    var eta: ClosedRange<Double> = 0.00001...0.01
    @Option(help: "ρ range LO:HI (EASGD uses α = ηρ); the default second axis, 0.01:10.", transform: parseRange) var rho: ClosedRange<Double>?
    @Option(help: "α range LO:HI instead of --rho (ADMM uses ρ = α/η).", transform: parseRange) var alpha: ClosedRange<Double>?
    @Option(help: "τ range LO:HI as the second axis instead (equal communication; DiLoCo's H).", transform: parseRange) var tauRange: ClosedRange<Double>?
    @Option(help: "A map to draw: METHOD [momentum=δ] [tau=τ] [schedule=round-robin|random] [beta=β] [outer=… outer-lr=η_o outer-momentum=β inner-momentum=δ]; repeat (default: admm, easgd).")
    var variant: [MapVariant] = []
    @Option(help: "Grid NxM for every map.") var grid = GridPoints(eta: 200, second: 200)
    @Option(help: "Curvature h of F(x) = h·x²/2.") var h: Double = 1
    @Flag(help: "Space η logarithmically.") var logEta = false
    @Flag(help: "Also write compare.svg.") var svg = false
    @Option(help: "Output directory (created if its parent exists).") var out: String
    @Flag(help: "Print a JSON array of the maps' summaries (each as in NAME-pP.json) instead of the table.") var json = false

    var variants: [MapVariant] { variant.isEmpty ? [MapVariant(method: .admm), MapVariant(method: .easgd)] : variant }

    func validate() throws {
        for p in workers.counts { try checkWorkers(p) }
        guard Set(workers.counts).count == workers.counts.count else { throw ValidationError("--workers lists a value twice") }
        try checkPositive("--h", h)
        try grid.validate()
        try checkRange("--eta", eta, positiveLower: logEta)
        if [rho != nil, alpha != nil, tauRange != nil].filter({ $0 }).count > 1 { throw ValidationError("give only one of --rho, --alpha or --tau-range") }
        if let tauRange, !(tauRange.lowerBound >= 1 && tauRange.upperBound <= Double(Limits.mapTau.upperBound)) {
            throw ValidationError("--tau-range must lie within 1:\(Limits.mapTau.upperBound)")
        }
        if let rho { try checkRange("--rho", rho) }
        if let alpha {
            try checkRange("--alpha", alpha)
            if eta.lowerBound == 0 { throw ValidationError("--alpha needs --eta LO > 0 (rho = alpha / eta)") }
        }
        for v in variants {
            guard v.method.hasRoundRobinMap || v.method.hasSynchronousMap else {
                throw ValidationError("\(v.method.rawValue) has no round map (maps exist for \(Algorithm.names { $0.hasRoundRobinMap || $0.hasSynchronousMap }))")
            }
            guard v.schedule.hasMap else { throw ValidationError("schedule=clock has no map (use round-robin or random)") }
            if tauRange == nil, !v.method.hasCoupling {
                throw ValidationError("\(v.method.rawValue) has no coupling axis: compare it at equal communication with --tau-range LO:HI")
            }
            if tauRange != nil, v.tau != 1 { throw ValidationError("\(v.name): with --tau-range, τ is the axis (drop tau=)") }
            if v.beta != nil, !(tauRange != nil && v.method.takes(.alpha)) {
                throw ValidationError("\(v.name): beta= fixes EASGD's and EAMSGD's coupling on a --tau-range comparison")
            }
            if let beta = v.beta { try checkPositive("beta", beta) }
            if v.givesOuter, !v.method.takes(.outer) {
                throw ValidationError("\(v.name): outer=, outer-lr=, outer-momentum= and inner-momentum= apply to \(Algorithm.names { $0.takes(.outer) })")
            }
            if let o = v.outerSettings {
                do { try RunSettings.check(outer: o, method: v.method) } catch let e as SettingsError { throw ValidationError("\(v.name): \(e.description)") }
                if v.schedule != .roundRobin { throw ValidationError("\(v.name): DiLoCo's maps have no worker order to choose") }
            }
            try checkSchemeExtras(method: v.method, momentum: v.momentum, tau: v.tau)
        }
        guard Set(variants.map(\.name)).count == variants.count else { throw ValidationError("--variant lists the same map twice") }
        try OutputPath.checkDirectory(out, for: "into \(out)")
    }

    func run() throws {
        let comparison = MapComparison(workers: workers.counts, variants: variants,
                                       eta: GridAxis(eta, count: grid.eta, logarithmic: logEta),
                                       second: GridAxis(tauRange ?? alpha ?? rho ?? 0.01...10, count: grid.second),
                                       secondKind: tauRange != nil ? .tau : alpha != nil ? .alpha : .rho, h: h)
        let result = try comparison.write(into: out, terminals: svg ? [.png, .svg] : [.png])
        print(json ? try JSON.array(result.summaries).render() : table([MapComparison.tableHeader] + result.rows))
        printError("map seconds: " + result.seconds.map { "\($0.name) p=\($0.workers) \(String(format: "%.3f", $0.seconds))" }.joined(separator: ", ") + "; wrote \(out)/")
        if !result.warnings.isEmpty { throw ExitCode(figureMissingExitCode, warnings: result.warnings) }
    }
}

extension MapVariant: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
}

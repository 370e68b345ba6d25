// easgd map: a stability map over (η, ρ) or (η, α), with the exactly traced boundary.

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Plotting
import Records
import Training

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Compute a stability map: ρ(F) over a grid of η and ρ (or α, τ, or DiLoCo's η_o or β).",
        discussion: """
            Writes PREFIX.csv (eta, the second axis, spectral_radius), PREFIX-boundary.csv (ρ(F) = 1 traced by Brent's \
            method along η for each row, to 1e-10 relative), PREFIX.json (summary) and PREFIX.png. \
            Grid points are LO + k·(HI − LO)/(N − 1), both ends included (log-spaced with --log-eta).
            Figure 1 of the paper, p = 3:
              easgd map --method admm --workers 3 --eta 0.00001:0.01 --rho 0.01:10 \\
                --grid 400x400 --out admm-p3
            Beyond the paper: EAMSGD with momentum δ (each worker keeps its velocity; gradient at the look-ahead point); \
            τ local steps per activation (Algorithm 1's clock: exchange on the first tick, then τ − 1 local steps); \
            DOWNPOUR over (η, τ) with --tau-range (EASGD and EAMSGD too, their β = pα fixed by --beta); and --schedule random, where a uniformly random worker activates \
            at each step and the map shows the mean-square radius per round ρ(T)^{p/2} of the second-moment operator:
              easgd map --method eamsgd --momentum 0.9 --workers 8 --eta 0.001:2 \\
                --alpha 0.001:1 --out eamsgd-p8
              easgd map --method easgd --tau 16 --workers 8 --eta 0.001:0.5 \\
                --alpha 0.001:1 --out easgd-tau16
              easgd map --method downpour --workers 8 --eta 0.001:1 --tau-range 1:64 \\
                --grid 200x64 --out downpour-p8
              easgd map --method admm --schedule random --workers 8 --eta 0.00001:0.01 \\
                --rho 0.01:10 --out admm-random
            DiLoCo (synchronous rounds: each worker's H = --tau inner SGD steps of rate γ = η from the center, then the \
            outer optimizer on the pseudo-gradient; the workers restart from the new center) over (γ, η_o) with \
            --outer-lr-range, (γ, β) with --outer-momentum-range or (γ, H) with --tau-range; the others fixed by --outer, \
            --outer-lr and --outer-momentum (defaults DiLoCo's: nesterov, 0.7, 0.9); async-diloco (each worker's \
            pseudo-gradient applied on arrival) the same, in round-robin order:
              easgd map --method diloco --workers 8 --tau 5 --eta 0.01:1.99 \\
                --outer-lr-range 0.05:2 --out diloco-h5
              easgd map --method async-diloco --workers 4 --eta 0.001:1.99 --log-eta \\
                --tau-range 1:64 --grid 200x64 --out async-diloco-p4
            """
    )

    @OptionGroup var map: MapOptions
    @Flag(help: "Also write PREFIX.svg.") var svg = false
    @Option(help: "Output prefix; its directory must exist.") var out: String
    @Flag(help: "Also print the summary as JSON (the same as PREFIX.json) on standard output.") var json = false

    func validate() throws {
        try OutputPath.checkPrefix(out)
    }

    func run() throws {
        let computed = try computeMap(map.spec)
        let transaction = OutputTransaction()
        let panel = try stageMapData(computed, prefix: out, transaction: transaction)
        let summary = try mapSummary(computed).render()
        try transaction.write(summary + "\n", to: out + ".json")
        var warnings: [String] = []
        let terminals: [Terminal] = svg ? [.png, .svg] : [.png]
        for terminal in terminals {
            if let warning = stageFigure("\(out).\(terminal.rawValue)", transaction: transaction, {
                HeatMap.script(panels: [panel], columns: 1, output: $0, terminal: terminal)
            }) { warnings.append(warning) }
        }
        try transaction.commit()
        let result = computed.map
        if json { print(summary) } else { print("""
            \(result.spec.method.rawValue) p=\(result.spec.workers)\(result.spec.schedule == .random ? " (random order, mean-square per round)" : ""): \(result.radii.count) points, \
            unstable fraction \(formatFraction(result.unstableFraction)), max radius \(try number(result.maxRadius)), \
            \(computed.boundary.count) boundary points
            """) }
        printError("computed in \(String(format: "%.3f", result.seconds)) s (boundary \(String(format: "%.3f", computed.boundarySeconds)) s); wrote \(out).csv, \(out)-boundary.csv, \(out).json" + (warnings.isEmpty ? ", \(out).png" : ""))
        if !warnings.isEmpty { throw ExitCode(figureMissingExitCode, warnings: warnings) }
    }
}

/// What a map is: the method, its fixed settings, the axes and the grid (`map`'s options but where it writes, and
/// the explorer's /api/map query).
struct MapOptions: ParsableArguments {
    @Option(help: "\(Algorithm.names { $0.hasRoundRobinMap || $0.hasSynchronousMap }).", transform: parseMethod) var method: Algorithm
    @Option(help: "Number of workers p (≥ 1).") var workers: Int
    @Option(name: [.customLong("eta"), .customLong("lr")], help: "η range LO:HI (LO ≥ 0; --lr is the same option).", transform: parseRange)
    var eta: ClosedRange<Double>
    @Option(help: "ρ range LO:HI (LO ≥ 0).", transform: parseRange) var rho: ClosedRange<Double>?
    @Option(help: "α range LO:HI, instead of --rho.", transform: parseRange) var alpha: ClosedRange<Double>?
    @Option(help: "τ range LO:HI as the second axis (DOWNPOUR; EASGD and EAMSGD with the coupling fixed by --beta; DiLoCo's H).", transform: parseRange)
    var tauRange: ClosedRange<Double>?
    @Option(help: "EASGD and EAMSGD over (η, τ): the fixed β = pα (default \(TrainingDefaults.beta), the paper's).") var beta: Double?
    @Option(help: "DiLoCo's outer learning rate η_o as the second axis, LO:HI.", transform: parseRange) var outerLrRange: ClosedRange<Double>?
    @Option(help: "DiLoCo's outer momentum β as the second axis, LO:HI within [0, 1).", transform: parseRange)
    var outerMomentumRange: ClosedRange<Double>?
    @OptionGroup var outerOptions: OuterOptions
    @Option(name: [.customLong("momentum"), .customLong("delta")], help: "EAMSGD's momentum δ in [0, 1) (default 0.99, as in training; --delta is the same option).")
    var momentum: Double?
    @Option(help: "Local steps per activation τ (1 to \(Limits.mapTau.upperBound)).") var tau: Int = 1
    @Option(help: "Worker order: round-robin or random (a uniformly random worker at each step).") var schedule: Schedule = .roundRobin
    @Option(help: "Grid NxM: N points along η, M along ρ or α.") var grid = GridPoints(eta: 200, second: 200)
    @Option(help: "Curvature h of F(x) = h·x²/2.") var h: Double = 1
    @Flag(help: "Space η logarithmically.") var logEta = false

    func validate() throws {
        if method.takes(.outer) { return try validateOuter() }
        if outerLrRange != nil || outerMomentumRange != nil || outerOptions.given {
            throw ValidationError("--outer, --outer-lr, --outer-momentum and their ranges apply to \(Algorithm.names { $0.takes(.outer) })")
        }
        guard method.hasRoundRobinMap else { throw ValidationError("\(method.rawValue) has no round-robin map (maps exist for \(Algorithm.names(where: \.hasRoundRobinMap)))") }
        guard schedule.hasMap else { throw ValidationError("--schedule clock has no map: clock order depends on the workers' costs (use round-robin or random)") }
        try validatePointAndGrid()
        if method == .downpour {
            guard let tauRange, rho == nil, alpha == nil else {
                throw ValidationError("DOWNPOUR has no coupling: give its second axis as --tau-range LO:HI (and no --rho or --alpha)")
            }
            guard tauRange.lowerBound >= 1, tauRange.upperBound <= 1024 else { throw ValidationError("--tau-range must lie within 1:1024") }
            return
        }
        if let tauRange {
            // EASGD and EAMSGD over (η, τ): the coupling fixed by --beta (β = pα, α = β/p at every point).
            guard method.takes(.alpha), rho == nil, alpha == nil else {
                throw ValidationError("--tau-range is the second axis of DOWNPOUR, EASGD and EAMSGD maps (EASGD and EAMSGD with a fixed --beta; use --tau for a fixed τ)")
            }
            guard tauRange.lowerBound >= 1, tauRange.upperBound <= 1024 else { throw ValidationError("--tau-range must lie within 1:1024") }
            if let beta { try checkPositive("--beta", beta) }
            return
        }
        if beta != nil { throw ValidationError("--beta fixes the coupling of a τ map (--tau-range); give --alpha or --rho ranges otherwise") }
        guard (rho == nil) != (alpha == nil) else { throw ValidationError("give exactly one of --rho or --alpha") }
        if let rho { try checkRange("--rho", rho) }
        if let alpha {
            try checkRange("--alpha", alpha)
            if eta.lowerBound == 0 { throw ValidationError("--alpha needs --eta LO > 0 (rho = alpha / eta)") }
        }
    }

    /// What every map checks: p, h, the grid, the η axis, and the settings the method takes.
    private func validatePointAndGrid() throws {
        try checkWorkers(workers)
        try checkPositive("--h", h)
        try grid.validate()
        try checkRange("--eta", eta, positiveLower: logEta)
        try checkSchemeExtras(method: method, momentum: momentum, tau: tau)
    }

    /// DiLoCo's map: one second axis among η_o, β and H, no coupling, no worker order; asynchronous DiLoCo's the
    /// same in round-robin order.
    private func validateOuter() throws {
        try outerOptions.check(method)
        guard schedule == .roundRobin else {
            throw ValidationError(method.hasSynchronousMap ? "DiLoCo's rounds are synchronous: it has no worker order (--schedule)"
                                  : "\(method.rawValue) has a round-robin map only (its outer velocity is a second shared coordinate, which the random-order reduction does not take)")
        }
        guard rho == nil, alpha == nil else { throw ValidationError("DiLoCo has no coupling: give no --rho or --alpha") }
        let axes = [outerLrRange != nil, outerMomentumRange != nil, tauRange != nil].filter { $0 }.count
        guard axes == 1 else {
            throw ValidationError("give DiLoCo's second axis: exactly one of --outer-lr-range, --outer-momentum-range or --tau-range")
        }
        try validatePointAndGrid()
        if let outerLrRange { try checkRange("--outer-lr-range", outerLrRange) }
        if let outerMomentumRange, !(outerMomentumRange.lowerBound >= 0 && outerMomentumRange.upperBound < 1) {
            throw ValidationError("--outer-momentum-range must lie within [0, 1)")
        }
        if let tauRange, !(tauRange.lowerBound >= 1 && tauRange.upperBound <= Double(Limits.mapTau.upperBound)) {
            throw ValidationError("--tau-range must lie within 1:\(Limits.mapTau.upperBound)")
        }
        if outerOptions.outerMomentum != nil && outerMomentumRange != nil { throw ValidationError("give --outer-momentum or --outer-momentum-range, not both") }
        if outerOptions.outerLr != nil && outerLrRange != nil { throw ValidationError("give --outer-lr or --outer-lr-range, not both") }
    }

    /// The second axis and what it holds: τ (DOWNPOUR; DiLoCo's H), ρ, α, or DiLoCo's η_o or β; validate() made sure
    /// exactly one is given.
    var second: (range: ClosedRange<Double>, kind: CouplingAxis) {
        if let outerLrRange { return (outerLrRange, .outerRate) }
        if let outerMomentumRange { return (outerMomentumRange, .outerMomentum) }
        if let tauRange { return (tauRange, .tau) }
        if let rho { return (rho, .rho) }
        return (alpha ?? 0...1, .alpha)
    }

    var spec: StabilityMapSpec {
        var spec = StabilityMapSpec(method: method, workers: workers, h: h, eta: GridAxis(eta, count: grid.eta, logarithmic: logEta),
                                    second: GridAxis(second.range, count: grid.second), secondKind: second.kind,
                                    momentum: SchemePoint.momentum(method, given: momentum), tau: tau, schedule: schedule,
                                    outer: outerSettings)
        if second.kind == .tau, method.takes(.alpha) { spec.fixedCoupling = .alpha((beta ?? TrainingDefaults.beta) / Double(workers)) }
        return spec
    }

    /// DiLoCo's outer step with its defaults (nil for the other methods).
    var outerSettings: OuterSettings? {
        outerOptions.settings(method)
    }
}

extension ExitCode {
    /// Print the warnings (one line each) and exit with `code`.
    init(_ code: Int32, warnings: [String]) {
        for warning in warnings { printError("easgd: \(warning)") }
        self.init(code)
    }
}

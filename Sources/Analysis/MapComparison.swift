// `easgd compare`: stability maps on one grid for several p and several methods (the paper's Figure 1 by
// default), each map's files, one figure with a row per p and a column per variant, and the summary rows.

import Dynamics
import Elastic
import Foundation
import Plotting
import Records
import Training

/// One map of a comparison: a method and its settings, e.g. "eamsgd momentum=0.9 tau=4 schedule=random", or DiLoCo's
/// outer step, "diloco outer=heavy-ball outer-lr=1 outer-momentum=0.5 inner-momentum=0.9" (SlowMo's shape).
public struct MapVariant: Equatable, Sendable {
    public var method: Algorithm
    public var momentum: Double?
    public var tau = 1
    public var schedule = Schedule.roundRobin
    /// EASGD and EAMSGD on a τ axis: β = pα (nil: the paper's 0.9).
    public var beta: Double?
    /// DiLoCo's outer step and inner optimizer as given (nil each: DiLoCo's defaults, inner SGD).
    public var outer: OuterOptimizer?
    public var outerRate: Double?
    public var outerMomentum: Double?
    public var innerMomentum: Double?

    public init(method: Algorithm) { self.method = method }

    /// METHOD [momentum=δ] [tau=τ] [schedule=round-robin|random] [beta=β] [outer=sgd|heavy-ball|nesterov]
    /// [outer-lr=η_o] [outer-momentum=β] [inner-momentum=δ]; `delta=` is the same as `momentum=`.
    public init?(text: String) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," })
        guard let first = words.first, let m = Algorithm(rawValue: String(first).lowercased()) else { return nil }
        method = m
        for word in words.dropFirst() {
            let kv = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { return nil }
            switch kv[0].lowercased() {
            case "delta", "momentum": guard let d = Double(kv[1]) else { return nil }; momentum = d
            case "tau": guard let t = Int(kv[1]) else { return nil }; tau = t
            case "schedule": guard let s = Schedule(rawValue: kv[1]) else { return nil }; schedule = s
            case "beta": guard let b = Double(kv[1]) else { return nil }; beta = b
            case "outer": guard let o = OuterOptimizer(rawValue: kv[1]) else { return nil }; outer = o
            case "outer-lr": guard let r = Double(kv[1]) else { return nil }; outerRate = r
            case "outer-momentum": guard let b = Double(kv[1]) else { return nil }; outerMomentum = b
            case "inner-momentum": guard let d = Double(kv[1]) else { return nil }; innerMomentum = d
            default: return nil
            }
        }
    }

    /// True when a DiLoCo setting was given.
    public var givesOuter: Bool { outer != nil || outerRate != nil || outerMomentum != nil || innerMomentum != nil }

    /// DiLoCo's outer step: as given, DiLoCo's defaults for the rest (nil for the other methods).
    public var outerSettings: OuterSettings? {
        guard method.takes(.outer) else { return nil }
        return .given(optimizer: outer, learningRate: outerRate, momentum: outerMomentum, innerMomentum: innerMomentum)
    }

    /// A file-name-safe name: method, then the settings that differ from the defaults.
    public var name: String {
        var parts = [method.rawValue]
        if let momentum { parts.append("delta\(momentum)") }
        if tau != 1 { parts.append("tau\(tau)") }
        if schedule == .random { parts.append("random") }
        if let beta { parts.append("beta\(beta)") }
        if let outer { parts.append(outer.rawValue) }
        if let outerRate { parts.append("lr\(outerRate)") }
        if let outerMomentum { parts.append("mom\(outerMomentum)") }
        if let innerMomentum { parts.append("inner\(innerMomentum)") }
        return parts.joined(separator: "-")
    }
}

public struct MapComparison {
    public var workers: [Int]
    public var variants: [MapVariant]
    public var eta: GridAxis
    public var second: GridAxis
    public var secondKind: CouplingAxis
    public var h: Double

    public init(workers: [Int], variants: [MapVariant], eta: GridAxis, second: GridAxis, secondKind: CouplingAxis, h: Double) {
        self.workers = workers
        self.variants = variants
        self.eta = eta
        self.second = second
        self.secondKind = secondKind
        self.h = h
    }

    public static let tableHeader = ["method", "workers", "unstable_fraction", "max_spectral_radius", "min_spectral_radius", "boundary_points"]

    public struct Result {
        /// One per map, in the order of `tableHeader`.
        public var rows: [[String]]
        /// Each map's summary (as in its NAME-pP.json), in the same order.
        public var summaries: [JSON]
        public var seconds: [(name: String, workers: Int, seconds: Double)]
        /// Figures gnuplot could not draw.
        public var warnings: [String]
    }

    /// Writes DIR/NAME-pP.{csv,json}, DIR/NAME-pP-boundary.csv and DIR/compare.<terminal> for each terminal.
    public func write(into out: String, terminals: [Terminal]) throws -> Result {
        try OutputPath.createDirectory(out)
        let transaction = OutputTransaction()
        var panels: [HeatMapPanel] = []
        var result = Result(rows: [], summaries: [], seconds: [], warnings: [])
        var maps: [(p: Int, v: MapVariant, computed: ComputedMap)] = []
        for p in workers {
            for v in variants {
                var spec = StabilityMapSpec(method: v.method, workers: p, h: h, eta: eta, second: second, secondKind: secondKind,
                                            momentum: SchemePoint.momentum(v.method, given: v.momentum), tau: v.tau, schedule: v.schedule,
                                            outer: v.outerSettings)
                // Equal communication (a τ axis): EASGD's and EAMSGD's coupling fixed by β = pα, as map does.
                if secondKind == .tau, v.method.takes(.alpha) { spec.fixedCoupling = .alpha((v.beta ?? TrainingDefaults.beta) / Double(p)) }
                maps.append((p, v, try computeMap(spec)))
            }
        }
        // One colour scale for every panel, so equal colours are equal radii across the figure.
        let scale = (min: maps.map(\.computed.map.minRadius).min()!, max: maps.map(\.computed.map.maxRadius).max()!)
        for (p, v, computed) in maps {
            do {
                let prefix = "\(out)/\(v.name)-p\(p)"
                var panel = try stageMapData(computed, prefix: prefix, transaction: transaction, scale: scale)
                if secondKind == .rho && v.method != .admm { panel.title += " ({/Symbol a} = {/Symbol hr})" }
                if secondKind == .alpha && v.method == .admm { panel.title += " ({/Symbol r} = {/Symbol a}/{/Symbol h})" }
                panels.append(panel)
                let summary = mapSummary(computed)
                try transaction.write(try summary.render() + "\n", to: prefix + ".json")
                let map = computed.map
                result.rows.append([v.name, String(p), formatFraction(map.unstableFraction), try number(map.maxRadius),
                                    try number(map.minRadius), String(computed.boundary.count)])
                result.summaries.append(summary)
                result.seconds.append((v.name, p, map.seconds))
            }
        }
        let random = variants.contains { $0.schedule == .random }
        let figureTitle = "Colour: largest |eigenvalue| {/Symbol r}(F) of the round map" + (random ? " (random order: mean-square radius per round)" : "")
            + " on F(x) = \(h == 1 ? "" : "\(h)·")x^2/2 (blue stable, red unstable)"
        for terminal in terminals {
            if let warning = stageFigure("\(out)/compare.\(terminal.rawValue)", transaction: transaction, {
                HeatMap.script(panels: panels, columns: variants.count, output: $0, terminal: terminal, title: figureTitle)
            }) { result.warnings.append(warning) }
        }
        try transaction.commit()
        return result
    }
}

/// A fraction as the summaries print it.
public func formatFraction(_ f: Double) -> String { String(format: "%.6f", f) }

// Writing one stability map: PREFIX.csv (eta, rho|alpha, radius), PREFIX-boundary.csv, PREFIX.json and
// PREFIX.png; used by `easgd map` and `easgd compare`.

import Dynamics
import Elastic
import Foundation
import Plotting
import Records
import Training

public struct ComputedMap {
    public var map: StabilityMap
    public var boundary: [BoundaryPoint]
    public var boundarySeconds: Double
}

/// The map on every core, and its boundary traced to 1e-10 relative.
public func computeMap(_ spec: StabilityMapSpec) throws -> ComputedMap {
    try MemoryEstimate.check(MemoryEstimate.grid(points: spec.eta.count, spec.second.count, bytesPerPoint: MemoryEstimate.bytesPerMapPoint),
                             for: "a map of \(spec.eta.count)x\(spec.second.count) points")
    let map = try StabilityMap.compute(spec)
    let start = Date()
    let boundary = try map.traceBoundary()
    return ComputedMap(map: map, boundary: boundary, boundarySeconds: Date().timeIntervalSince(start))
}

/// The symbol of a map's second axis, for labels.
public func symbol(_ kind: CouplingAxis) -> String {
    switch kind {
    case .rho: "{/Symbol r}"
    case .alpha: "{/Symbol a}"
    case .tau: "{/Symbol t} (local steps per activation)"
    }
}

public func title(_ spec: StabilityMapSpec) -> String {
    var parts = ["\(spec.method.name), \(spec.schedule == .random ? "random order" : "round-robin"), p = \(spec.workers)"]
    if spec.method == .eamsgd { parts.append("{/Symbol d} = \(spec.momentum)") }
    if spec.secondKind != .tau && spec.tau != 1 { parts.append("{/Symbol t} = \(spec.tau)") }
    if spec.h != 1 { parts.append("h = \(spec.h)") }
    return parts.joined(separator: ", ")
}

/// Stage the CSV files of a computed map; returns the panel that draws it.
public func stageMapData(_ computed: ComputedMap, prefix: String, transaction: OutputTransaction) throws -> HeatMapPanel {
    let map = computed.map, spec = map.spec
    let etas = map.etaValues, seconds = map.secondValues
    var csv = CSV(header: ["eta", spec.secondKind.rawValue, "radius"])
    for j in 0..<seconds.count {
        for i in 0..<etas.count { try csv.row([etas[i], seconds[j], map.radius(etaIndex: i, secondIndex: j)]) }
    }
    let csvTemporary = try transaction.write(csv.text, to: prefix + ".csv")

    var boundaryCSV = CSV(header: ["eta", spec.secondKind.rawValue, "crossing", "becomes_unstable", "radius"])
    for point in computed.boundary {
        boundaryCSV.row([try number(point.eta), try number(point.second), String(point.crossing),
                         point.becomesUnstable ? "1" : "0", try number(point.radius)])
    }
    let boundaryTemporary = try transaction.write(boundaryCSV.text, to: prefix + "-boundary.csv")

    var curves: [(csv: String, title: String)] = []
    if let curve = PaperCurves.easgdCondition(for: spec) {
        // The paper's condition, computed independently of the radii and drawn over them.
        var data = CSV(header: ["eta", "alpha"])
        for point in curve.points { try data.row([point.x, point.y]) }
        curves.append((csv: try transaction.scratch(data.text, beside: prefix), title: curve.title))
    }
    return HeatMapPanel(csv: csvTemporary, title: title(spec),
                        xLabel: "{/Symbol h}", yLabel: symbol(spec.secondKind), logX: spec.eta.logarithmic,
                        minValue: map.minRadius, maxValue: map.maxRadius,
                        quantity: spec.schedule == .random ? "{/Symbol r}(T)^{p/2} (mean square)" : "{/Symbol r}(F)",
                        boundaryCSV: computed.boundary.isEmpty ? nil : boundaryTemporary, curves: curves)
}

/// The map's JSON summary: every setting that determined it, and the quantities under the toolkit's keys
/// (`spectral_radius` names ρ(F) everywhere; here its range over the grid).
public func mapSummary(_ computed: ComputedMap) -> JSON {
    let map = computed.map, spec = map.spec
    func axis(_ a: GridAxis) -> JSON {
        .object([("lo", .number(a.lower)), ("hi", .number(a.upper)), ("points", .integer(a.count)), ("log", .bool(a.logarithmic))])
    }
    return .object([
        ("method", .string(spec.method.rawValue)),
        ("workers", .integer(spec.workers)),
        ("h", .number(spec.h)),
        ("momentum", .number(spec.momentum)),
        ("tau", .integer(spec.tau)),
        ("schedule", .string(spec.schedule.rawValue)),
        ("quantity", .string(spec.schedule == .random ? "mean-square radius per round, rho(T)^(p/2)" : "spectral radius of the round map")),
        ("eta", axis(spec.eta)),
        (spec.secondKind.rawValue, axis(spec.second)),
        ("grid_points", .integer(map.radii.count)),
        ("unstable_fraction", .number(map.unstableFraction)),
        ("spectral_radius", .object([("min", .number(map.minRadius)), ("max", .number(map.maxRadius))])),
        ("boundary_points", .integer(computed.boundary.count)),
        ("timing", .object([
            ("map_seconds", .number(map.seconds)),
            ("boundary_seconds", .number(computed.boundarySeconds)),
            ("threads", .integer(ProcessInfo.processInfo.activeProcessorCount)),
        ])),
        ("solver", .object([
            ("lapack_solves", .integer(map.lapackSolves)),
            ("tracked_solves", .integer(map.trackedSolves)),
        ])),
    ])
}

/// Render a figure into a staged file. Returns a warning (gnuplot missing or failing) instead of throwing,
/// so the data already staged are still committed.
public func stageFigure(_ path: String, transaction: OutputTransaction, _ script: (String) -> String) -> String? {
    let temporary = transaction.stage(path)
    do {
        try Gnuplot.run(script: script(temporary))
        if let terminal = Terminal(rawValue: (path as NSString).pathExtension) { try Gnuplot.checkComplete(temporary, terminal: terminal) }
        return nil
    } catch {
        transaction.discard(path)
        return "\(path) not drawn: \(error)"
    }
}

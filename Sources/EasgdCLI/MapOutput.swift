// Writing one stability map: PREFIX.csv (eta, rho|alpha, radius), PREFIX-boundary.csv, PREFIX.json and
// PREFIX.png; used by `easgd map` and `easgd compare`.

import Dynamics
import Foundation
import Plotting

/// The validated settings of one map.
struct MapOptions {
    var method: Method
    var workers: Int
    var eta: ParameterRange
    var second: ParameterRange
    var secondKind: CouplingAxis
    var grid: GridSize
    var h: Double
    var logEta: Bool
    var momentum: Double = 0
    var tau: Int = 1
    var schedule: Schedule = .roundRobin

    var spec: StabilityMapSpec {
        StabilityMapSpec(method: method, workers: workers, h: h,
                         eta: GridAxis(lower: eta.lower, upper: eta.upper, count: grid.etaPoints, logarithmic: logEta),
                         second: GridAxis(lower: second.lower, upper: second.upper, count: grid.secondPoints),
                         secondKind: secondKind, momentum: momentum, tau: tau, schedule: schedule)
    }
}

struct ComputedMap {
    var map: StabilityMap
    var boundary: [BoundaryPoint]
    var boundarySeconds: Double
}

func computeMap(_ options: MapOptions) throws -> ComputedMap {
    let map = try StabilityMap.compute(options.spec)
    let start = Date()
    let boundary = try map.traceBoundary()
    return ComputedMap(map: map, boundary: boundary, boundarySeconds: Date().timeIntervalSince(start))
}

/// The symbol of a map's second axis, for labels.
func symbol(_ kind: CouplingAxis) -> String {
    switch kind {
    case .rho: "{/Symbol r}"
    case .alpha: "{/Symbol a}"
    case .tau: "{/Symbol t} (local steps per activation)"
    }
}

func title(_ spec: StabilityMapSpec) -> String {
    var parts = ["\(spec.method.name), \(spec.schedule == .random ? "random order" : "round-robin"), p = \(spec.workers)"]
    if spec.method == .eamsgd { parts.append("{/Symbol d} = \(spec.momentum)") }
    if spec.secondKind != .tau && spec.tau != 1 { parts.append("{/Symbol t} = \(spec.tau)") }
    if spec.h != 1 { parts.append("h = \(spec.h)") }
    return parts.joined(separator: ", ")
}

/// Stage the CSV files of a computed map; returns the panel that draws it.
func stageMapData(_ computed: ComputedMap, prefix: String, transaction: OutputTransaction) throws -> HeatMapPanel {
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

    var curves: [(expression: String, title: String)] = []
    if spec.method == .easgd && spec.secondKind == .alpha && spec.tau == 1 && spec.schedule == .roundRobin {
        // The paper's condition, drawn independently of the computed radii: α = (4 − 2ηh)/(4 − ηh).
        let x = spec.eta.logarithmic ? "(10**x)" : "x"
        curves.append((expression: "(\(x) * \(spec.h) <= 2 ? (4 - 2 * \(x) * \(spec.h)) / (4 - \(x) * \(spec.h)) : 1/0)",
                       title: "paper: {/Symbol a} = (4 - 2{/Symbol h}h)/(4 - {/Symbol h}h)"))
    }
    return HeatMapPanel(csv: csvTemporary, title: title(spec),
                        xLabel: "{/Symbol h}", yLabel: symbol(spec.secondKind), logX: spec.eta.logarithmic,
                        minValue: map.minRadius, maxValue: map.maxRadius,
                        boundaryCSV: computed.boundary.isEmpty ? nil : boundaryTemporary, curves: curves)
}

func mapSummary(_ computed: ComputedMap) -> JSON {
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
        ("radius", .string(spec.schedule == .random ? "mean-square radius per round, rho(T)^(p/2)" : "spectral radius of the round map")),
        ("eta", axis(spec.eta)),
        (spec.secondKind.rawValue, axis(spec.second)),
        ("grid_points", .integer(map.radii.count)),
        ("unstable_fraction", .number(map.unstableFraction)),
        ("max_radius", .number(map.maxRadius)),
        ("min_radius", .number(map.minRadius)),
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
func stageFigure(_ path: String, transaction: OutputTransaction, _ script: (String) -> String) -> String? {
    let temporary = transaction.stage(path)
    do {
        try Gnuplot.run(script: script(temporary))
        return nil
    } catch {
        transaction.discard(path)
        return "\(path) not drawn: \(error)"
    }
}

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

/// The map on every core, and its boundary traced to 1e-10 relative. `shouldStop` is asked before each row of the
/// map (StabilityMap.compute) and once before the boundary.
public func computeMap(_ spec: StabilityMapSpec, shouldStop: (@Sendable () -> Bool)? = nil) throws -> ComputedMap {
    try MemoryEstimate.check(MemoryEstimate.grid(points: spec.eta.count, spec.second.count, bytesPerPoint: MemoryEstimate.bytesPerMapPoint),
                             for: "a map of \(spec.eta.count)x\(spec.second.count) points")
    let map = try StabilityMap.compute(spec, shouldStop: shouldStop)
    if let shouldStop, shouldStop() { throw StabilityMapError.stopped }
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
    case .outerRate: "outer learning rate {/Symbol h}_o"
    case .outerMomentum: "outer momentum {/Symbol b}"
    }
}

public func title(_ spec: StabilityMapSpec) -> String {
    if let o = spec.outer, spec.method.takes(.outer) {
        var parts = ["\(spec.method.name), \(spec.method.hasSynchronousMap ? "synchronous rounds" : "round-robin"), p = \(spec.workers)",
                     "outer \(o.optimizer.rawValue)" + (o.delayed ? " delayed one round" : "")]
        if spec.secondKind != .outerRate { parts.append("{/Symbol h}_o = \(o.learningRate)") }
        if spec.secondKind != .outerMomentum && o.optimizer != .sgd { parts.append("{/Symbol b} = \(o.momentum)") }
        if o.innerNesterov { parts.append("inner Nesterov {/Symbol d} = \(o.innerMomentum)" + (o.keepsInnerVelocity ? " (kept)" : "")) }
        if spec.secondKind != .tau { parts.append("H = \(spec.tau)") }
        if spec.h != 1 { parts.append("h = \(spec.h)") }
        return parts.joined(separator: ", ")
    }
    var parts = ["\(spec.method.name), \(spec.schedule == .random ? "random order" : "round-robin"), p = \(spec.workers)"]
    if spec.method == .eamsgd { parts.append("{/Symbol d} = \(spec.momentum)") }
    if spec.secondKind == .tau, case .alpha(let a)? = spec.fixedCoupling {
        parts.append("{/Symbol a} = \(plain(a)) ({/Symbol b} = \(plain(a * Double(spec.workers))))")
    }
    if spec.secondKind != .tau && spec.tau != 1 { parts.append("{/Symbol t} = \(spec.tau)") }
    if spec.h != 1 { parts.append("h = \(spec.h)") }
    return parts.joined(separator: ", ")
}

/// Stage the CSV files of a computed map; returns the panel that draws it.
/// `scale`: the colour scale's smallest and largest radius (default: the map's own; a comparison's panels share one).
public func stageMapData(_ computed: ComputedMap, prefix: String, transaction: OutputTransaction,
                         scale: (min: Double, max: Double)? = nil) throws -> HeatMapPanel {
    let map = computed.map, spec = map.spec
    let scale = scale ?? (map.minRadius, map.maxRadius)
    let etas = map.etaValues, seconds = map.secondValues
    let csvTemporary = try transaction.write(try mapCSV(map), to: prefix + ".csv")
    // The figure reads the radii as a binary grid, not the CSV: gnuplot parses a million text lines slowly.
    let gridFile = try transaction.scratch(HeatMap.colourGrid(map.radii, minValue: scale.min, maxValue: scale.max),
                                           beside: prefix, extension: "bin")
    func plotted(_ v: Double, log: Bool) -> Double { log ? log10(v) : v }
    func step(_ values: [Double], log: Bool) -> Double {
        values.count > 1 ? (plotted(values.last!, log: log) - plotted(values[0], log: log)) / Double(values.count - 1) : 1
    }

    var boundaryCSV = CSV(header: ["eta", spec.secondKind.rawValue, "crossing", "becomes_unstable", "spectral_radius"])
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
    var panel = HeatMapPanel(csv: csvTemporary, title: title(spec),
                             xLabel: spec.method.takes(.outer) ? "inner learning rate {/Symbol g} (--eta)" : "{/Symbol h}",
                             yLabel: symbol(spec.secondKind), logX: spec.eta.logarithmic,
                             minValue: scale.min, maxValue: scale.max,
                             quantity: spec.schedule == .random ? "mean-square radius {/Symbol r}(T)^{p/2}" : "spectral radius {/Symbol r}(F)",
                             boundaryCSV: computed.boundary.isEmpty ? nil : boundaryTemporary, curves: curves)
    panel.grid = BinaryGrid(path: gridFile, columns: etas.count, rows: seconds.count,
                            x0: plotted(etas[0], log: spec.eta.logarithmic), dx: step(etas, log: spec.eta.logarithmic),
                            y0: seconds[0], dy: step(seconds, log: false))
    return panel
}

/// PREFIX.csv of a map: eta, rho|alpha|tau, radius, one row per point (eta fastest), every number in its shortest
/// round-trip form. Each axis value is formatted once; the rows are formatted in parallel blocks and joined.
func mapCSV(_ map: StabilityMap) throws -> Data {
    if let bad = map.radii.first(where: { !$0.isFinite }) { _ = try number(bad) }   // the one refusal, with its message
    let etas = map.etaValues, seconds = map.secondValues
    let etaText = try etas.map { Array(try number($0).utf8) + [UInt8(ascii: ",")] }
    let secondText = try seconds.map { Array(try number($0).utf8) + [UInt8(ascii: ",")] }
    let rows = seconds.count
    let blocks = min(rows, 4 * ProcessInfo.processInfo.activeProcessorCount)
    var pieces = [[UInt8]](repeating: [], count: blocks)
    pieces.withUnsafeMutableBufferPointer { out in
        let out = UncheckedBuffer(pointer: out)
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            var bytes: [UInt8] = []
            bytes.reserveCapacity((rows * (b + 1) / blocks - rows * b / blocks) * etas.count * 48)
            for j in (rows * b / blocks)..<(rows * (b + 1) / blocks) {
                for i in 0..<etas.count {
                    bytes.append(contentsOf: etaText[i])
                    bytes.append(contentsOf: secondText[j])
                    // `number`'s form (checked finite above), without its per-call throw.
                    bytes.append(contentsOf: map.radius(etaIndex: i, secondIndex: j).description.utf8)
                    bytes.append(UInt8(ascii: "\n"))
                }
            }
            out.pointer[b] = bytes
        }
    }
    var data = Data("eta,\(map.spec.secondKind.rawValue),spectral_radius\n".utf8)
    data.reserveCapacity(data.count + pieces.reduce(0) { $0 + $1.count })
    for piece in pieces { data.append(contentsOf: piece) }
    return data
}

/// Hands a buffer whose blocks are written by disjoint iterations to concurrentPerform.
private struct UncheckedBuffer<Element>: @unchecked Sendable {
    let pointer: UnsafeMutableBufferPointer<Element>
}

/// The map's JSON summary: every setting that determined it, and the quantities under the toolkit's keys
/// (`spectral_radius` names ρ(F) everywhere; here its range over the grid).
public func mapSummary(_ computed: ComputedMap) -> JSON {
    let map = computed.map, spec = map.spec
    func axis(_ a: GridAxis) -> JSON {
        .object([("lo", .number(a.lower)), ("hi", .number(a.upper)), ("points", .integer(a.count)), ("log", .bool(a.logarithmic))])
    }
    // Each fixed setting once, and none that the second axis varies (a τ map held "tau" twice before 2026-12-06).
    var fixed: [(String, JSON)] = spec.method.takes(.momentum) ? [("momentum", .number(spec.momentum))] : []
    if let o = spec.outer, spec.method.takes(.outer) {
        fixed.append(("outer", .string(o.optimizer.rawValue)))
        if spec.secondKind != .outerRate { fixed.append(("outer_eta", .number(o.learningRate))) }
        if spec.secondKind != .outerMomentum && o.optimizer != .sgd { fixed.append(("outer_momentum", .number(o.momentum))) }
        fixed.append(("outer_delay", .integer(o.delayed ? 1 : 0)))
    }
    if spec.secondKind != .tau { fixed.append(("tau", .integer(spec.tau))) }
    if spec.secondKind == .tau, case .alpha(let a)? = spec.fixedCoupling { fixed += [("alpha", .number(a)), ("beta", .number(a * Double(spec.workers)))] }
    let synchronous = spec.method.hasSynchronousMap
    return .object([
        ("method", .string(spec.method.rawValue)),
        ("workers", .integer(spec.workers)),
        ("h", .number(spec.h)),
    ] + fixed + [
        ("schedule", .string(synchronous ? "synchronous" : spec.schedule.rawValue)),
        ("quantity", .string(spec.schedule == .random ? "mean-square radius per round, rho(T)^(p/2)"
                             : synchronous ? "spectral radius of the synchronous round" : "spectral radius of the round map")),
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

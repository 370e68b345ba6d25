// easgd bench map: time a stability map and the reference path (dgeev on the full round map) it replaces.

import Analysis
import ArgumentParser
import Records
import Dynamics
import Elastic
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks.",
        subcommands: [BenchMapCommand.self, BenchTrainCommand.self, BenchEngineCommand.self]
    )
}

struct BenchMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Time a stability map (fast cyclic path) against dgeev on the full round map.",
        discussion: """
            Prints the map time and, on a sample of the same grid, the per-point cost of dgeev on the full
            (2p+1)×(2p+1) round map. With --out, writes PREFIX.bin (the radii as little-endian float64, row-major)
            and PREFIX.json for benchmarks/peers/numpy_map.py to check against numpy.
            """
    )

    @Option(help: "easgd or admm.") var method: Algorithm = .admm
    @Option(help: "Number of workers p.") var workers = 8
    @Option(help: "η range LO:HI.") var eta: ClosedRange<Double> = 0.00001...0.01
    @Option(help: "ρ range LO:HI.") var rho: ClosedRange<Double> = 0.01...10
    @Option(help: "Grid NxM.") var grid = GridPoints(eta: 1000, second: 1000)
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Repetitions of the map; the median is reported.") var repeats = 3
    @Option(help: "Grid points sampled for the dgeev reference timing.") var sample = 20000
    @Option(help: "Output prefix for the radii and summary.") var out: String?

    func validate() throws {
        try checkWorkers(workers)
        try grid.validate()
        try checkRange("--eta", eta)
        try checkRange("--rho", rho)
        guard repeats >= 1, sample >= 1 else { throw ValidationError("--repeats and --sample must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be positive") }
        if let out { try OutputPath.checkParent(of: out, for: out) }
    }

    func run() throws {
        let spec = StabilityMapSpec(method: method, workers: workers, eta: GridAxis(eta, count: grid.eta),
                                    second: GridAxis(rho, count: grid.second), secondKind: .rho)
        var times: [Double] = []
        var last: StabilityMap? = nil
        for _ in 0..<repeats {
            let map = try StabilityMap.compute(spec, threads: threads)
            times.append(map.seconds)
            last = map
        }
        let map = last!
        let median = times.sorted()[times.count / 2]
        let points = Double(map.radii.count)

        // Reference: dgeev on the full probed round map, single thread, on an evenly spread sample of the grid.
        let solver = EigenSolver(maxDimension: spec.scheme(eta: 1, second: 1).stateDimension)
        let etas = spec.eta.values, seconds = spec.second.values
        let count = min(sample, map.radii.count)
        let stride = max(1, map.radii.count / count)
        var worst = 0.0
        let start = Date()
        for k in 0..<count {
            let index = k * stride
            let i = index % etas.count, j = index / etas.count
            let reference = try solver.spectralRadius(of: spec.scheme(eta: etas[i], second: seconds[j]).probedRoundMap())
            worst = max(worst, abs(reference - map.radii[index]) / reference)
        }
        let referencePerPoint = Date().timeIntervalSince(start) / Double(count)

        // Where the map's time goes: building the scheme and its cyclic polynomial alone, on the same sample.
        var checksum = 0.0
        let polynomialStart = Date()
        for k in 0..<count {
            let index = k * stride
            checksum += spec.scheme(eta: etas[index % etas.count], second: seconds[index / etas.count]).cyclicPolynomial()[0]
        }
        let polynomialPerPoint = Date().timeIntervalSince(polynomialStart) / Double(count)
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount

        print("\(method.rawValue) p=\(workers) grid \(grid.description) threads \(threadCount)")
        print("map: median \(String(format: "%.3f", median)) s over \(repeats) (\(String(format: "%.2f", median / points * 1e6 * Double(threadCount))) us per point per thread; LAPACK solves \(map.lapackSolves), tracked \(map.trackedSolves))")
        print("reference dgeev on the full round map: \(String(format: "%.2f", referencePerPoint * 1e6)) us per point (1 thread, \(count) points), projected \(String(format: "%.1f", referencePerPoint * points / Double(threadCount))) s on \(threadCount) threads")
        print("map cost per point per thread: \(String(format: "%.2f", polynomialPerPoint * 1e6)) us building the scheme and its cyclic polynomial, the rest in root finding (checksum \(String(format: "%.3g", checksum)))")
        print("max relative difference from the reference on the sample: \(String(format: "%.2e", worst))")

        if let out {
            let transaction = OutputTransaction()
            let binary = transaction.stage(out + ".bin")
            let data = map.radii.withUnsafeBufferPointer { Data(buffer: $0) }
            try data.write(to: URL(fileURLWithPath: binary))
            let summary = JSON.object([
                ("method", .string(method.rawValue)), ("workers", .integer(workers)), ("h", .number(1)),
                ("eta", .object([("lo", .number(eta.lowerBound)), ("hi", .number(eta.upperBound)), ("points", .integer(grid.eta))])),
                ("rho", .object([("lo", .number(rho.lowerBound)), ("hi", .number(rho.upperBound)), ("points", .integer(grid.second))])),
                ("threads", .integer(threadCount)),
                ("map_seconds_median", .number(median)),
                ("map_seconds", .array(times.map { .number($0) })),
                ("reference_dgeev_us_per_point", .number(referencePerPoint * 1e6)),
            ])
            try transaction.write(try summary.render() + "\n", to: out + ".json")
            try transaction.commit()
        }
    }
}

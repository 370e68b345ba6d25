// easgd bench map: time a stability map and the reference path (dgeev on the full round map) it replaces.

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Records

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks.",
        subcommands: [BenchMapCommand.self, BenchTrainCommand.self, BenchEngineCommand.self, BenchExchangeCommand.self, BenchLinksCommand.self, BenchCodecCommand.self, BenchDataCommand.self]
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

    @Option(help: "easgd or admm.", transform: parseMethod) var method: Algorithm = .admm
    @Option(help: "Number of workers p.") var workers = 8
    @Option(name: [.customLong("eta"), .customLong("lr")], help: "η range LO:HI (--lr is the same option).", transform: parseRange) var eta: ClosedRange<Double> = 0.00001...0.01
    @Option(help: "ρ range LO:HI.", transform: parseRange) var rho: ClosedRange<Double> = 0.01...10
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
        if let out { try OutputPath.checkPrefix(out) }
    }

    func run() throws {
        let benchmark = MapBenchmark(method: method, workers: workers, eta: eta, rho: rho, gridEta: grid.eta, gridRho: grid.second,
                                     threads: threads, repeats: repeats, sample: sample)
        for line in try benchmark.run(out: out) { print(line) }
    }
}

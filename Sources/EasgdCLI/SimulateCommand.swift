// easgd simulate: run a round-robin scheme with the Elastic update code and measure its growth per round.

import Analysis
import ArgumentParser
import Elastic
import Records
import Dynamics

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a round-robin trajectory and compare its growth rate with ln ρ(F).",
        discussion: """
            Writes PREFIX.csv (round, max_abs, log10_max_abs) and PREFIX.png. The growth rate is the least-squares
            slope of ln max|s| over the second half of the run. The paper's chaotic ADMM example:
              easgd simulate --method admm --workers 3 --eta 0.001 --rho 2.5 \\
                --rounds 100000 --init 1000 --out chaos
            """
    )

    @OptionGroup var trajectory: TrajectoryOptions
    @Option(help: "Output prefix; its directory must exist.") var out: String
    @Flag(help: "Print JSON: every setting, spectral_radius, stable, growth_rate and relative_difference.") var json = false

    func validate() throws {
        try OutputPath.checkPrefix(out)
    }

    func run() throws {
        let result = try trajectory.point.schemePoint.simulate(from: trajectory.start, rounds: trajectory.rounds, prefix: out)
        print(json ? try result.json.render() : result.lines.joined(separator: "\n"))
        printError("wrote \(out).csv" + (result.warning == nil ? ", \(out).png" : ""))
        if let warning = result.warning { throw ExitCode(figureMissingExitCode, warnings: [warning]) }
    }
}

/// A trajectory: the scheme, the rounds and where it starts (`simulate`'s options but where it writes, and the
/// explorer's /api/simulate query).
struct TrajectoryOptions: ParsableArguments {
    @OptionGroup var point: SchemeOptions
    @Option(help: "Number of rounds (each = p activations), at most 10000000.") var rounds: Int
    @Option(name: .customLong("init"), help: "Initial state: a number X (λ = 0, x_i = x̃ = X) or 'random'.")
    var initial: InitArgument = .constant(1000)
    @Option(help: "Seed for --init random.") var seed: UInt64 = 1

    func validate() throws {
        _ = try point.schemePoint          // --eta and the coupling are required here
        guard point.method.hasRoundRobinMap else {
            throw ValidationError("simulate runs the round-robin schemes (\(Algorithm.names(where: \.hasRoundRobinMap))), not \(point.method.rawValue)")
        }
        guard rounds >= 1, rounds <= 10_000_000 else { throw ValidationError("--rounds must be between 1 and 10000000 (got \(rounds))") }
    }

    var start: InitialState {
        switch initial {
        case .constant(let v): .constant(v)
        case .random: .random(seed: seed)
        }
    }
}

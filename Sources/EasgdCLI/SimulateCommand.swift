// easgd simulate: run a round-robin scheme with the Elastic update code and measure its growth per round.

import Analysis
import ArgumentParser
import Records
import Dynamics
import Foundation
import Plotting

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a round-robin trajectory and compare its growth rate with ln ρ(F).",
        discussion: """
            Writes PREFIX.csv (round, max_abs, log10_max_abs) and PREFIX.png. The growth rate is the least-squares
            slope of ln max|s| over the second half of the run. The paper's chaotic ADMM example:
              easgd simulate --method admm --workers 3 --eta 0.001 --rho 2.5 --rounds 100000 --init 1000 --out chaos
            """
    )

    @OptionGroup var point: SchemeOptions
    @Option(help: "Number of rounds (each = p activations), at most 10000000.") var rounds: Int
    @Option(name: .customLong("init"), help: "Initial state: a number X (λ = 0, x_i = x̃ = X) or 'random'.")
    var initial: InitArgument = .constant(1000)
    @Option(help: "Seed for --init random.") var seed: UInt64 = 1
    @Option(help: "Output prefix; its directory must exist.") var out: String

    func validate() throws {
        guard rounds >= 1, rounds <= 10_000_000 else { throw ValidationError("--rounds must be between 1 and 10000000 (got \(rounds))") }
        try OutputPath.checkParent(of: out, for: out)
    }

    func run() throws {
        let c = try point.coupling
        let (method, workers, eta) = (point.method, point.workers, point.eta)
        let scheme = try point.scheme()
        let start: InitialState = {
            switch initial {
            case .constant(let v): return .constant(v)
            case .random: return .random(seed: seed)
            }
        }()
        let trajectory = scheme.simulate(from: scheme.initialState(start), rounds: rounds)
        let radius = try scheme.roundMapEigenvalues(solver: EigenSolver(maxDimension: scheme.stateDimension))
            .reduce(0) { max($0, $1.magnitude) }

        let transaction = OutputTransaction()
        var csv = CSV(header: ["round", "max_abs", "log10_max_abs"])
        for (t, m) in trajectory.maxAbs.enumerated() {
            if m > 0 { try csv.row([Double(t), m, log10(m)]) } else { csv.row([String(t), "0", ""]) }
        }
        let csvTemporary = try transaction.write(csv.text, to: out + ".csv")
        let lnRadius = log(radius)
        let start0 = trajectory.maxAbs[0]
        let reference = start0 > 0 && radius > 0
            ? [(expression: "\(log10(start0)) + x * \(log10(radius))", title: "log_{10} max|s_0| + t log_{10} {/Symbol r}(F)")] : []
        let name = method == .admm ? "ADMM" : "EASGD"
        let warning = stageFigure(out + ".png", transaction: transaction) {
            LinePlot.script(series: [LineSeries(csv: csvTemporary, xColumn: 1, yColumn: 3, title: "simulated (Elastic update code)")],
                            references: reference,
                            title: "\(name) round-robin, p = \(workers), {/Symbol h} = \(eta), {/Symbol r} = \(c.rho(eta: eta)), {/Symbol r}(F) = \(String(format: "%.9g", radius))",
                            xLabel: "round t", yLabel: "log_{10} max_k |s_k|", output: $0, terminal: .png)
        }
        try transaction.commit()

        print("spectral radius of the round map: \(try number(radius)) (ln = \(try number(lnRadius)))")
        if let diverged = trajectory.divergedAtRound {
            print("diverged at round \(diverged): max|s| left the finite range (> 1e300) after \(diverged - 1) finite rounds")
        }
        if let vanished = trajectory.vanishedAtRound {
            print("the state reached exactly 0 at round \(vanished)")
        }
        if let rate = trajectory.growthRate {
            let relative = lnRadius != 0 ? abs(rate - lnRadius) / abs(lnRadius) : .infinity
            print("measured growth rate per round: \(String(format: "%.9g", rate)) (ln max|s|, least squares over rounds \(trajectory.maxAbs.count / 2)..\(trajectory.roundsRun))")
            if relative.isFinite {
                print("relative difference from ln rho(F): \(String(format: "%.3g", relative * 100)) %")
            }
        } else {
            print("growth rate not measurable: too few finite, nonzero rounds")
        }
        printError("wrote \(out).csv" + (warning == nil ? ", \(out).png" : ""))
        if let warning { throw ExitCode(figureMissingExitCode, warnings: [warning]) }
    }
}

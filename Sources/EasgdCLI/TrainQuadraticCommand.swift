// easgd train-quadratic: the parallel engine on F(x) = ½Σ_j h_j (x_j − 1)², optionally with gradient noise, on the
// simulated backend. With --schedule round-robin it is the section-4 scheme run by the engine itself, e.g. the
// paper's chaotic ADMM: easgd train-quadratic --method admm --workers 3 --lr 0.001 --rho 2.5 --x0 1000 ...

import Analysis
import ArgumentParser
import Records
import Elastic
import Engine
import Foundation
import Training

struct TrainQuadraticCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-quadratic",
        abstract: "Run the parallel engine on a (noisy) quadratic: every method, ADMM included, on the simulated backend.",
        discussion: """
            The minimiser is x* = (1, …, 1). All workers and the center start at x0 in every coordinate (ADMM's \
            multipliers at 0). Writes RUN_DIR/metrics.csv (step, virtual_seconds, center_loss, center_distance, \
            exchanges) every --eval-every steps. It prints the growth rate per round of ln‖x̃ − x*‖ over the second \
            half of the run. For a noiseless one-dimensional round-robin run it also prints ln ρ(F) of the same \
            scheme from `Dynamics`:
              easgd train-quadratic --method admm --workers 3 --lr 0.001 --rho 2.5 \\
                --x0 1000 --schedule round-robin --steps 100000 --out chaos-engine
              easgd train-quadratic --method easgd --workers 8 --lr 0.1 --beta 0.9 \\
                --h 1,0.1 --sigma 0.5 --steps 2000 --out q
            """
    )

    @Option(help: "\(Algorithm.names { $0.isParallel }).", transform: parseMethod) var method: Algorithm
    @Option(help: "Workers p.") var workers: Int = 4
    @Option(name: [.customLong("lr"), .customLong("eta")], help: ArgumentHelp("Learning rate η (--eta is the same option).", valueName: "eta"))
    var learningRate: Double
    @Option(help: "Elastic moving rate α.") var alpha: Double?
    @Option(help: "β = pα (default \(TrainingDefaults.beta)).") var beta: Double?
    @Option(help: "ADMM's ρ.") var rho: Double = EngineSettings.defaultRho
    @Option(help: "Communication period τ (DiLoCo: the inner steps H per round).") var tau: Int = 1
    @OptionGroup var outerOptions: OuterOptions
    @Option(name: [.customLong("momentum"), .customLong("delta")], help: "Momentum δ (EAMSGD, MDOWNPOUR; --delta is the same option).")
    var momentum: Double = 0.9
    @Option(help: "Curvatures h_j, comma-separated.") var h = NumberList([1])
    @Option(help: "Gradient noise σ.") var sigma: Double = 0
    @Option(help: "Starting value of every coordinate.") var x0: Double = 0
    @Option(help: "Worker order: clock, round-robin (τ steps per activation) or random (τ steps by a uniformly drawn worker per activation, from --seed).") var schedule: Schedule = .clock
    @Option(help: "Steps per worker.") var steps: Int
    @Option(help: "Record every this many steps in total (default: 200 records).") var evalEvery: Int?
    @Option(help: "Seed of the gradient noise.") var seed: UInt64 = 1
    @Option(help: "The run directory to create.") var out: String
    @Flag(help: "Print JSON: every setting, growth_per_round and, where the scheme has a map, spectral_radius and stable (random order: mean_square_radius and mean_square_stable).") var json = false

    func validate() throws {
        try checkWorkers(workers)
        try checkPositive("--lr", learningRate)
        if alpha != nil && beta != nil { throw ValidationError("give only one of --alpha or --beta") }
        if let alpha { try checkNonNegative("--alpha", alpha) }
        if let beta { try checkNonNegative("--beta", beta) }
        try checkPositive("--rho", rho)
        try outerOptions.check(method)
        guard tau >= 1 else { throw ValidationError("--tau must be positive") }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        guard h.values.allSatisfy({ $0 > 0 }) else { throw ValidationError("--h values must be positive") }
        try checkNonNegative("--sigma", sigma)
        try checkFinite("--x0", x0)
        guard steps >= 1, steps <= 100_000_000 else { throw ValidationError("--steps must be between 1 and 100000000") }
        if let evalEvery { guard evalEvery >= 1 else { throw ValidationError("--eval-every must be positive") } }
        if let problem = quadraticRun.problem { throw ValidationError(problem) }
        if FileManager.default.fileExists(atPath: out) { throw ValidationError("\(out) already exists") }
        try OutputPath.checkParent(of: out, for: "--out")
    }

    var quadraticRun: QuadraticRun {
        QuadraticRun(settings: EngineSettings(method: method, workers: workers, learningRate: learningRate, alpha: alpha,
                                              beta: beta ?? TrainingDefaults.beta, tau: tau, momentum: momentum,
                                              weightDecay: 0, rho: rho, outer: outerOptions.settings(method)),
                     curvatures: h.values, sigma: sigma, x0: x0, schedule: schedule, steps: steps, evalEvery: evalEvery, seed: seed)
    }

    func run() throws {
        let result = try quadraticRun.run()
        let transaction = OutputTransaction()
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try transaction.write(result.csv, to: out + "/metrics.csv")
        try transaction.commit()
        if json {
            print(try quadraticRun.json(result).render())
            printError("wrote \(out)/metrics.csv")
            if result.stopped.count == workers || result.overflowAt != nil { throw ExitCode(ExitStatus.diverged) }
            return
        }
        print("method \(method.rawValue), p = \(workers), η = \(learningRate), schedule \(schedule.rawValue), \(steps) steps per worker")
        if let growth = result.growthPerRound {
            let round = method.stepsTogether ? "round (τ = \(tau) steps of every worker)" : "round of \(workers) activations"
            print("growth of ln‖x̃ − x*‖ per \(round): \(String(format: "%.9g", growth))")
        }
        if let theory = result.theory {
            print("theory (Dynamics, the same scheme): ln ρ(F) = \(String(format: "%.9g", theory.lnRadius)) per round (ρ(F) = \(try number(theory.radius)))")
        }
        if let ms = result.meanSquare {
            print("theory (Dynamics, random order): mean-square radius per round ρ(T)^(p/2) = \(try number(ms.radius)), ln = "
                  + "\(String(format: "%.9g", ms.lnRadius)): one run's growth is at most this ln (Jensen), up to sampling")
        }
        if let overflowAt = result.overflowAt { print("the center left the double range after \(overflowAt) steps in total (diverged)") }
        for s in result.stopped { printError("worker \(s.worker) stopped at its step \(s.clock): \(s.reason)") }
        printError("wrote \(out)/metrics.csv")
        if result.stopped.count == workers || result.overflowAt != nil {
            printError("easgd: the run diverged (\(result.overflowAt != nil ? "the center left the double range" : "every worker stopped"))")
            throw ExitCode(ExitStatus.diverged)
        }
    }
}

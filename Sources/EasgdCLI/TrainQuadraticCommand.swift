// easgd train-quadratic: the parallel engine on F(x) = ½Σ_j h_j (x_j − 1)², optionally with gradient noise, on the
// simulated backend. With --schedule round-robin it is the section-4 scheme run by the engine itself, e.g. the
// paper's chaotic ADMM: easgd train-quadratic --method admm --workers 3 --lr 0.001 --rho 2.5 --x0 1000 ...

import ArgumentParser
import Dynamics
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
              easgd train-quadratic --method admm --workers 3 --lr 0.001 --rho 2.5 --x0 1000 --schedule round-robin \\
                --steps 100000 --out chaos-engine
              easgd train-quadratic --method easgd --workers 8 --lr 0.1 --beta 0.9 --h 1,0.1 --sigma 0.5 --steps 2000 --out q
            """
    )

    @Option(help: "easgd, eamsgd, downpour, mdownpour, adownpour, mvadownpour, sync-easgd or admm.") var method: ParallelMethod
    @Option(help: "Workers p.") var workers: Int = 4
    @Option(name: .customLong("lr"), help: "Learning rate η.") var learningRate: Double
    @Option(help: "Elastic moving rate α.") var alpha: Double?
    @Option(help: "β = pα (default 0.9).") var beta: Double?
    @Option(help: "ADMM's ρ.") var rho: Double = 1
    @Option(help: "Communication period τ.") var tau: Int = 1
    @Option(help: "Momentum δ (EAMSGD, MDOWNPOUR).") var momentum: Double = 0.9
    @Option(help: "Curvatures h_j, comma-separated.") var h = NumberList([1])
    @Option(help: "Gradient noise σ.") var sigma: Double = 0
    @Option(help: "Starting value of every coordinate.") var x0: Double = 0
    @Option(help: "clock or round-robin.") var schedule: SimulatedSchedule = .clock
    @Option(help: "Steps per worker.") var steps: Int
    @Option(help: "Record every this many steps in total (default: 200 records).") var evalEvery: Int?
    @Option(help: "Seed of the gradient noise.") var seed: UInt64 = 1
    @Option(help: "The run directory to create.") var out: String

    func validate() throws {
        guard workers >= 1, workers <= 256 else { throw ValidationError("--workers must be between 1 and 256") }
        try checkPositive("--lr", learningRate)
        if alpha != nil && beta != nil { throw ValidationError("give only one of --alpha or --beta") }
        if let alpha { try checkNonNegative("--alpha", alpha) }
        if let beta { try checkNonNegative("--beta", beta) }
        try checkPositive("--rho", rho)
        guard tau >= 1 else { throw ValidationError("--tau must be positive") }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        guard h.values.allSatisfy({ $0 > 0 }) else { throw ValidationError("--h values must be positive") }
        try checkNonNegative("--sigma", sigma)
        try checkFinite("--x0", x0)
        guard steps >= 1, steps <= 100_000_000 else { throw ValidationError("--steps must be between 1 and 100000000") }
        if let evalEvery { guard evalEvery >= 1 else { throw ValidationError("--eval-every must be positive") } }
        if method == .admm && schedule != .roundRobin { throw ValidationError("admm runs round-robin: add --schedule round-robin") }
        if FileManager.default.fileExists(atPath: out) { throw ValidationError("\(out) already exists") }
        try checkDirectory(splitPath(out).directory, for: "--out")
    }

    func run() throws {
        let n = h.values.count
        let settings = EngineSettings(method: method, workers: workers, learningRate: learningRate, alpha: alpha, beta: beta ?? 0.9,
                                      tau: tau, momentum: momentum, weightDecay: 0, rho: rho)
        let objectives: [any Objective<Double>] = (0..<workers).map {
            QuadraticObjective<Double>(curvatures: h.values, minimizer: Array(repeating: 1, count: n), noise: sigma,
                                       seed: SplitMix64.derived(from: seed, stream: UInt64($0)).state)
        }
        let engine = ParallelEngine<Double>(settings: settings, objectives: objectives, initial: Array(repeating: x0, count: n))
        let simulator = SimulatedBackend(engine: engine, schedule: schedule)
        let stepsPerEvent = method == .syncEasgd ? workers : (schedule == .roundRobin ? settings.tau : 1)
        let events = (steps * workers + stepsPerEvent - 1) / stepsPerEvent
        let every = max(1, evalEvery ?? max(1, steps * workers / 200))
        var csv = CSV(header: ["step", "virtual_seconds", "center_loss", "center_distance", "exchanges"])
        var points: [(x: Double, y: Double)] = []
        var lastRecorded = -1, overflowAt: Int? = nil
        func recordNow() throws {
            let c = engine.master.model(method)
            var loss = 0.0, dist = 0.0
            for j in 0..<n { let d = c[j] - 1; loss += 0.5 * h.values[j] * d * d; dist += d * d }
            let total = engine.workers.reduce(0) { $0 + $1.clock }
            guard loss.isFinite, dist.isFinite else { overflowAt = overflowAt ?? total; return }
            csv.row([String(total), try number(simulator.now), try number(loss), try number(dist.squareRoot()),
                     String(engine.workers.reduce(0) { $0 + $1.exchanges })])
            if dist > 0 { points.append((Double(total), 0.5 * log(dist))) }
            lastRecorded = total
        }
        try recordNow()
        for _ in 0..<events {
            simulator.run(events: 1)
            let total = engine.workers.reduce(0) { $0 + $1.clock }
            if total - max(lastRecorded, 0) >= every { try recordNow() }
            if overflowAt != nil || engine.aliveWorkers == 0 { break }
        }
        if engine.workers.reduce(0, { $0 + $1.clock }) != lastRecorded { try recordNow() }
        let transaction = OutputTransaction()
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try transaction.write(csv.text, to: out + "/metrics.csv")
        try transaction.commit()

        // Growth per round (p activations) of ln‖x̃ − x*‖, least squares over the second half of the records.
        if let perStep = leastSquaresSlope(Array(points.suffix(max(points.count / 2, 2)))) {
            print("growth of ln‖x̃ − x*‖ per round of \(workers) activations: \(String(format: "%.9g", perStep * Double(workers * settings.tau)))")
        }
        if schedule == .roundRobin, sigma == 0, n == 1, [.easgd, .eamsgd, .downpour, .admm].contains(method) {
            let theory: Dynamics.Method = method == .admm ? .admm : (method == .eamsgd ? .eamsgd : (method == .downpour ? .downpour : .easgd))
            let scheme = makeScheme(theory, workers: workers, eta: learningRate, coupling: method == .admm ? .rho(rho) : .alpha(settings.alpha),
                                    h: h.values[0], momentum: momentum, tau: tau)
            let radius = try scheme.spectralRadiusFromCyclicStructure(solver: EigenSolver(maxDimension: scheme.stateDimension))
            print("theory (Dynamics, the same scheme): ln ρ(F) = \(String(format: "%.9g", log(radius))) per round (ρ(F) = \(try number(radius)))")
        }
        if let overflowAt { print("the center left the double range after \(overflowAt) steps in total (diverged)") }
        for s in engine.stopped { printError("worker \(s.worker) stopped at its step \(s.clock): \(s.reason)") }
        printError("wrote \(out)/metrics.csv")
    }
}

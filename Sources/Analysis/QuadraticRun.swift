// The parallel engine on F(x) = ½Σ_j h_j (x_j − 1)² with Gaussian gradient noise, on the simulated backend: the
// records of the center's loss and distance, the growth rate per round of ln‖x̃ − x*‖, and (for a noiseless
// one-dimensional round-robin run) the same scheme's ln ρ(F) from `Dynamics`, so that theory and engine meet.

import Dynamics
import Elastic
import Engine
import Foundation
import Records
import Training

public struct QuadraticRun {
    public var settings: EngineSettings
    public var curvatures: [Double]
    public var sigma: Double
    public var x0: Double
    /// clock, round-robin or random.
    public var schedule: Schedule
    public var steps: Int
    /// Record every this many worker steps in total (default: 200 records).
    public var evalEvery: Int?
    public var seed: UInt64

    public init(settings: EngineSettings, curvatures: [Double], sigma: Double, x0: Double, schedule: Schedule, steps: Int,
                evalEvery: Int?, seed: UInt64) {
        self.settings = settings
        self.curvatures = curvatures
        self.sigma = sigma
        self.x0 = x0
        self.schedule = schedule
        self.steps = steps
        self.evalEvery = evalEvery
        self.seed = seed
    }

    /// Nil if the run can go, else why not.
    public var problem: String? {
        if settings.method == .admm && schedule != .roundRobin {
            return "admm runs round-robin: add --schedule round-robin"
        }
        if !settings.method.isParallel { return "\(settings.method.rawValue) is a sequential method; train-quadratic runs p workers and a master" }
        return nil
    }

    public struct Result {
        /// metrics.csv: step, virtual_seconds, center_loss, center_distance, exchanges.
        public var csv: String
        /// The least-squares growth of ln‖x̃ − x*‖ per round of p activations (of τ steps each) over the second
        /// half of the records.
        public var growthPerRound: Double?
        /// ln ρ(F) and ρ(F) of the same scheme from `Dynamics`, where one exists (noiseless, one-dimensional,
        /// round-robin, a method with a round map).
        public var theory: (lnRadius: Double, radius: Double)?
        /// Random order: the map's mean-square radius per round ρ(T)^{p/2} and its ln. By Jensen a run's growth
        /// per round is at most that ln (E ln‖s‖ ≤ ½ ln E‖s‖²), up to sampling: the map's bound, not its value.
        public var meanSquare: (lnRadius: Double, radius: Double)?
        /// Worker steps in total after which the center left the double range.
        public var overflowAt: Int?
        /// The center's loss at the first record and at the last one (nil when the center left the double range).
        public var initialLoss: Double?
        public var finalLoss: Double?
        public var stopped: [(worker: Int, clock: Int, reason: String)]
    }

    public func run() throws -> Result {
        let n = curvatures.count, workers = settings.workers, method = settings.method
        let objectives: [any Objective<Double>] = (0..<workers).map {
            QuadraticObjective<Double>(curvatures: curvatures, minimizer: Array(repeating: 1, count: n), noise: sigma,
                                       seed: SplitMix64.derived(from: seed, stream: UInt64($0)).state)
        }
        let engine = ParallelEngine<Double>(settings: settings, objectives: objectives, initial: Array(repeating: x0, count: n))
        let simulator = SimulatedBackend(engine: engine, schedule: schedule, orderSeed: seed)
        let stepsPerEvent = method.stepsTogether ? workers : (schedule == .clock ? 1 : settings.tau)
        let events = (steps * workers + stepsPerEvent - 1) / stepsPerEvent
        let every = max(1, evalEvery ?? max(1, steps * workers / 200))
        var csv = CSV(header: ["total_steps", "virtual_seconds", "center_loss", "center_distance", "exchanges"])
        var points: [(x: Double, y: Double)] = []
        var lastRecorded = -1, overflowAt: Int? = nil
        var initialLoss: Double? = nil, finalLoss: Double? = nil
        func total() -> Int { engine.workers.reduce(0) { $0 + $1.clock } }
        func recordNow() throws {
            let c = engine.master.model(method)
            var loss = 0.0, dist = 0.0
            for j in 0..<n { let d = c[j] - 1; loss += 0.5 * curvatures[j] * d * d; dist += d * d }
            guard loss.isFinite, dist.isFinite else { overflowAt = overflowAt ?? total(); return }
            initialLoss = initialLoss ?? loss
            finalLoss = loss
            csv.row([String(total()), try number(simulator.now), try number(loss), try number(dist.squareRoot()),
                     String(engine.workers.reduce(0) { $0 + $1.exchanges })])
            if dist > 0 { points.append((Double(total()), 0.5 * log(dist))) }
            lastRecorded = total()
        }
        try recordNow()
        for _ in 0..<events {
            simulator.run(events: 1)
            if total() - max(lastRecorded, 0) >= every { try recordNow() }
            if overflowAt != nil || engine.aliveWorkers == 0 { break }
        }
        if total() != lastRecorded { try recordNow() }

        let slope = leastSquaresSlope(Array(points.suffix(max(points.count / 2, 2))))
        var theory: (Double, Double)? = nil
        if schedule == .roundRobin, sigma == 0, n == 1, method.hasRoundRobinMap {
            let scheme = makeScheme(method, workers: workers, eta: settings.learningRate,
                                    coupling: method == .admm ? .rho(settings.rho) : .alpha(settings.alpha),
                                    h: curvatures[0], momentum: settings.momentum, tau: settings.tau, outer: settings.outer)
            let radius = try scheme.spectralRadiusFromCyclicStructure(solver: EigenSolver(maxDimension: scheme.stateDimension))
            theory = (log(radius), radius)
        }
        if method == .diloco, sigma == 0, n == 1, let outer = settings.outer {
            // Every worker steps at once whatever the order: the synchronous round's map.
            let radius = try outer.round(workers: workers, innerRate: settings.learningRate, innerSteps: settings.tau,
                                         curvatures: [curvatures[0]]).radius().radius
            theory = (log(radius), radius)
        }
        var meanSquare: (lnRadius: Double, radius: Double)? = nil
        if schedule == .random, sigma == 0, n == 1, method.hasRandomOrderMap {
            let scheme = makeScheme(method, workers: workers, eta: settings.learningRate,
                                    coupling: method == .admm ? .rho(settings.rho) : .alpha(settings.alpha),
                                    h: curvatures[0], momentum: settings.momentum, tau: settings.tau, outer: settings.outer)
            let random = RandomOrderScheme(scheme)
            let radius = try random.meanSquareRadiusPerRound(solver: EigenSolver(maxDimension: random.reducedDimension))
            meanSquare = (log(radius), radius)
        }
        return Result(csv: csv.text, growthPerRound: slope.map { $0 * Double(workers * settings.tau) }, theory: theory,
                      meanSquare: meanSquare, overflowAt: overflowAt, initialLoss: initialLoss, finalLoss: overflowAt == nil ? finalLoss : nil,
                      stopped: engine.stopped)
    }

    /// Every setting that determined the run, and what it measured, under the toolkit's keys.
    public func json(_ result: Result) -> JSON {
        let m = settings.method
        var fields: [(String, JSON)] = [("method", .string(m.rawValue)), ("workers", .integer(settings.workers)),
                                        ("eta", .number(settings.learningRate))]
        if m.takes(.alpha) { fields.append(("alpha", .number(settings.alpha))) }
        if m.takes(.rho) { fields.append(("rho", .number(settings.rho))) }
        if m.takes(.momentum) { fields.append(("momentum", .number(settings.momentum))) }
        if m.takes(.tau) { fields.append(("tau", .integer(settings.tau))) }
        if m.takes(.movingRate) { fields.append(("moving_rate", .number(settings.movingRate))) }
        if let o = settings.outer {
            fields += [("outer", .string(o.optimizer.rawValue)), ("outer_eta", .number(o.learningRate)), ("outer_momentum", .number(o.momentum)),
                       ("outer_delay", .integer(o.delayed ? 1 : 0))]
            if o.innerNesterov { fields += [("inner_momentum", .number(o.innerMomentum)), ("keeps_inner_velocity", .bool(o.keepsInnerVelocity))] }
        }
        fields += [("h", .array(curvatures.map { .number($0) })), ("sigma", .number(sigma)), ("x0", .number(x0)),
                   ("schedule", .string(schedule.rawValue)), ("steps_per_worker", .integer(steps)), ("seed", .integer(Int(truncatingIfNeeded: seed))),
                   ("growth_per_round", result.growthPerRound.map { .number($0) } ?? .null)]
        if let theory = result.theory {
            fields += [("ln_spectral_radius", .number(theory.lnRadius)), ("spectral_radius", .number(theory.radius)),
                       ("stable", .bool(theory.radius <= 1 + StabilityMap.marginalBand))]
        }
        if let ms = result.meanSquare {
            fields += [("ln_mean_square_radius", .number(ms.lnRadius)), ("mean_square_radius", .number(ms.radius)),
                       ("mean_square_stable", .bool(ms.radius <= 1 + StabilityMap.marginalBand))]
        }
        fields.append(("overflow_at_total_steps", result.overflowAt.map { .integer($0) } ?? .null))
        fields.append(("stopped_workers", .integer(result.stopped.count)))
        return .object(fields)
    }
}

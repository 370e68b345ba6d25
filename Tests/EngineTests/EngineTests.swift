// The parallel engine against independent references: the simulated round-robin engine reproduces the
// Dynamics trajectories bit for bit (the engine and the theory run the same update code); EASGD with α = 0 is p
// independent SGD runs; every method converges on a noisy quadratic; the threads backend loses no update; a
// poisoned worker does not poison the center.
import Dynamics
import Elastic
@testable import Engine
import Foundation
import NumericTesting
import Records
import Testing
import Training

func quadratics<S: NetworkScalar>(_ p: Int, curvatures: [Double], minimizer: [Double], noise: Double = 0, seed: UInt64 = 1)
    -> [any Objective<S>] {
    (0..<p).map { QuadraticObjective<S>(curvatures: curvatures, minimizer: minimizer, noise: noise, seed: seed &+ UInt64($0)) }
}

// One algorithm value names both the map (Dynamics) and the run (Engine): no bridge between them.
@Test(arguments: [
    (Algorithm.easgd, 0.0, 1), (.easgd, 0.0, 4), (.eamsgd, 0.9, 1),
    (.eamsgd, 0.5, 3), (.downpour, 0.0, 1), (.downpour, 0.0, 5), (.admm, 0.0, 1),
])
func roundRobinEngineReproducesTheDynamicsTrajectory(method: Algorithm, momentum: Double, tau: Int) {
    let p = 3, h = 1.0, x0 = 1000.0
    let (eta, second): (Double, Double) = method == .admm ? (0.001, 2.5) : (0.4, 0.3)
    let scheme = makeScheme(method, workers: p, eta: eta, coupling: method == .admm ? .rho(second) : .alpha(second), h: h,
                            momentum: momentum, tau: tau)
    var state = [Double](repeating: 0, count: scheme.stateDimension)
    // All workers and the center at x0; velocities and multipliers 0.
    for i in 0..<p { state[i * scheme.blockSize + (method == .admm ? 1 : 0)] = x0 }
    state[scheme.stateDimension - 1] = x0

    let settings = EngineSettings(method: method, workers: p, learningRate: eta, alpha: method == .admm ? 0 : second,
                                  tau: tau, momentum: momentum, weightDecay: 0, rho: second)
    let engine = ParallelEngine<Double>(settings: settings, objectives: quadratics(p, curvatures: [h], minimizer: [0]), initial: [x0])
    let simulator = SimulatedBackend(engine: engine, schedule: .roundRobin)
    let rounds = method == .admm ? 3000 : 40
    for _ in 0..<rounds {
        state.withUnsafeMutableBufferPointer { scheme.round($0) }
        simulator.run(events: p)
        for i in 0..<p {
            let x = state[i * scheme.blockSize + (method == .admm ? 1 : 0)]
            #expect(engine.workers[i].parameters[0].bitPattern == x.bitPattern, "\(method) worker \(i)")
        }
        #expect(engine.master.center[0].bitPattern == state[scheme.stateDimension - 1].bitPattern, "\(method) center")
    }
}

@Test func easgdWithoutCouplingIsIndependentSGD() {
    let p = 3, curv = [0.5, 2.0], xStar = [1.0, -1.0]
    let engine = ParallelEngine<Float>(settings: EngineSettings(method: .easgd, workers: p, learningRate: 0.1, alpha: 0, weightDecay: 1e-3),
                                       objectives: quadratics(p, curvatures: curv, minimizer: xStar, noise: 0.3, seed: 10),
                                       initial: [3, 3])
    SimulatedBackend(engine: engine).run(events: 300)
    for i in 0..<p {
        let objective = QuadraticObjective<Float>(curvatures: curv, minimizer: xStar, noise: 0.3, seed: 10 &+ UInt64(i))
        let sgd = SequentialOptimizer(settings: OptimizerSettings(method: .sgd, learningRate: 0.1, weightDecay: 1e-3), count: 2)
        sgd.parameters[0] = 3; sgd.parameters[1] = 3
        for _ in 0..<100 { _ = sgd.step(objective) }
        #expect(engine.workers[i].parameters.array.map(\.bitPattern) == sgd.parameters.array.map(\.bitPattern))
    }
    #expect(engine.master.center.array == [3, 3])
}

@Test(arguments: Algorithm.allCases.filter { $0.isParallel && $0 != .admm })
func everyMethodConvergesOnANoisyQuadratic(method: Algorithm) throws {
    let p = 4, curv = [0.5, 1, 2, 3.0], xStar = [1, -2, 0.5, 3.0], noise = 0.05
    // DOWNPOUR's pushes are stale by p − 1 others' updates: round-robin DOWNPOUR with p = 4 is unstable at
    // η·h_max·τ = 0.6 (easgd radius --method downpour --workers 4 --eta 0.6 --tau 1 > 1), so it gets a smaller
    // step and τ = 1; the prediction is checked here too.
    let downpour = method.accumulates
    let eta = downpour ? 0.02 : 0.05, tau = downpour || method == .mdownpour ? 1 : 4
    if downpour {
        let radius = try RoundRobinDownpour(workers: p, eta: eta * 3, tau: tau).spectralRadiusFromCyclicStructure(solver: EigenSolver(maxDimension: 8))
        #expect(radius < 1)
    }
    let settings = EngineSettings(method: method, workers: p, learningRate: eta, beta: 0.9, tau: tau,
                                  momentum: method == .eamsgd || method == .mdownpour ? 0.5 : 0.99, movingRate: 0.05, weightDecay: 0)
    let engine = ParallelEngine<Double>(settings: settings, objectives: quadratics(p, curvatures: curv, minimizer: xStar, noise: noise),
                                        initial: [0, 0, 0, 0])
    let start = zip(engine.master.model(method).array, xStar).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    var tail: [Double] = []
    SimulatedBackend(engine: engine).run(events: 4000) { sim in
        if tail.count < 2000, sim.engine.workers.reduce(0, { $0 + $1.clock }) > 4000 * (method.stepsTogether ? p : 1) - 2000 {
            let z = sim.engine.master.model(method).array
            tail.append(zip(z, xStar).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) })
        }
    }
    #expect(engine.aliveWorkers == p)
    // Known scale: SGD's stationary MSE at the same η, Σ_j η²σ²/(1 − (1 − ηh_j)²).
    let sgdMSE = curv.reduce(0) { $0 + eta * eta * noise * noise / (1 - (1 - eta * $1) * (1 - eta * $1)) }
    let mse = tail.reduce(0, +) / Double(max(tail.count, 1))
    // ADOWNPOUR's running mean still carries the start-up transient (it decays like 1/t), so it is only held to
    // the relative decrease.
    let scale = method == .adownpour ? Double.infinity : 10 * sgdMSE
    #expect(!tail.isEmpty && mse < scale && mse < 1e-3 * start, "\(method): MSE \(mse), SGD scale \(sgdMSE), start \(start)")
}

@Test func syncEASGDCenterMSEMatchesTheClosedForm() throws {
    // The engine's sync-EASGD on 1-D quadratics, averaged over many independent replicas, against easgd variance.
    let p = 4, eta = 0.1, beta = 0.9, sigma = 2.0, steps = 30, replicas = 4000
    var sum = 0.0, sumSquares = 0.0
    for r in 0..<replicas {
        let engine = ParallelEngine<Double>(settings: EngineSettings(method: .syncEasgd, workers: p, learningRate: eta, beta: beta, weightDecay: 0),
                                            objectives: quadratics(p, curvatures: [1], minimizer: [0], noise: sigma, seed: UInt64(r * 101)),
                                            initial: [1])
        SimulatedBackend(engine: engine).run(events: steps)
        let c = engine.master.center[0]
        sum += c
        sumSquares += c * c
    }
    let (exact, _) = try #require(SynchronousEASGD(workers: p, eta: eta, beta: beta, h: 1, sigma: sigma)
        .centerMoments(at: steps, x0: 1, center0: 1))
    let mean = sum / Double(replicas), variance = (sumSquares - Double(replicas) * mean * mean) / Double(replicas - 1)
    #expect(abs(mean - exact.mean) <= 4 * (exact.variance / Double(replicas)).squareRoot())
    #expect(abs(variance - exact.variance) <= 4 * exact.variance * (2 / Double(replicas - 1)).squareRoot())
}

/// ∇F = 1 everywhere: every DOWNPOUR push adds exactly −η to the center, so a lost update would show.
final class ConstantGradient: Objective {
    typealias Scalar = Double
    var parameterCount: Int { 1 }
    var randomState: [UInt64] = []
    func lossAndGradient(at parameters: UnsafeBufferPointer<Double>, into gradient: UnsafeMutableBufferPointer<Double>) -> Double {
        gradient[0] = 1
        return parameters[0]
    }
}

@Test func threadsBackendLosesNoUpdate() {
    let p = 4, steps = 5000, eta = 1.0 / 1024
    let engine = ParallelEngine<Double>(settings: EngineSettings(method: .downpour, workers: p, learningRate: eta, tau: 1, weightDecay: 0),
                                        objectives: (0..<p).map { _ in ConstantGradient() }, initial: [0])
    ThreadsBackend(engine: engine).run(stepsPerWorker: steps)
    #expect(engine.master.center[0] == -eta * Double(p * steps))
    #expect(engine.master.accepted == p * steps)
}

@Test func threadsBackendTrainsEASGD() {
    let p = 4, curv = [0.5, 2.0], xStar = [1.0, -1.0]
    let engine = ParallelEngine<Float>(settings: EngineSettings(method: .easgd, workers: p, learningRate: 0.1, tau: 2, weightDecay: 0),
                                       objectives: quadratics(p, curvatures: curv, minimizer: xStar, noise: 0.01),
                                       initial: [4, 4])
    ThreadsBackend(engine: engine).run(stepsPerWorker: 2000)
    let c = engine.master.center.array.map(Double.init)
    #expect(abs(c[0] - 1) < 0.05 && abs(c[1] + 1) < 0.05, "\(c)")
    #expect(engine.workers.allSatisfy { $0.clock == 2000 && $0.exchanges == 1000 })
}

/// A worker whose gradient becomes NaN after `after` evaluations.
final class PoisonedQuadratic: Objective {
    typealias Scalar = Float
    let inner: QuadraticObjective<Float>
    var calls = 0
    let after: Int
    init(after: Int) { inner = QuadraticObjective(curvatures: [1, 1], minimizer: [0.5, 0.5]); self.after = after }
    var parameterCount: Int { 2 }
    var randomState: [UInt64] {
        get { inner.randomState + [UInt64(calls)] }
        set { inner.randomState = [newValue[0]]; calls = Int(newValue[1]) }
    }
    func lossAndGradient(at parameters: UnsafeBufferPointer<Float>, into gradient: UnsafeMutableBufferPointer<Float>) -> Double {
        calls += 1
        let loss = inner.lossAndGradient(at: parameters, into: gradient)
        if calls > after { gradient[0] = .nan; return .nan }
        return loss
    }
}

@Test(arguments: [Algorithm.easgd, .eamsgd, .downpour, .mdownpour])
func aPoisonedWorkerDoesNotPoisonTheCenter(method: Algorithm) {
    let p = 3
    var objectives: [any Objective<Float>] = quadratics(2, curvatures: [1, 1], minimizer: [0.5, 0.5])
    objectives.insert(PoisonedQuadratic(after: 20), at: 1)
    let engine = ParallelEngine<Float>(settings: EngineSettings(method: method, workers: p, learningRate: 0.1, tau: 1, momentum: 0.5, weightDecay: 0),
                                       objectives: objectives, initial: [2, 2])
    SimulatedBackend(engine: engine).run(events: 600)
    #expect(engine.stopped.map(\.worker) == [1])
    #expect(engine.aliveWorkers == 2)
    #expect(engine.master.center.isFinite)
    let c = engine.master.center.array
    #expect(abs(c[0] - 0.5) < 1e-3 && abs(c[1] - 0.5) < 1e-3, "\(method): \(c)")
}

@Test func simulatedRunsAreBitIdentical() {
    func run() -> [UInt32] {
        let engine = ParallelEngine<Float>(settings: EngineSettings(method: .eamsgd, workers: 5, learningRate: 0.05, tau: 3, momentum: 0.9, weightDecay: 0),
                                           objectives: quadratics(5, curvatures: [1, 3], minimizer: [1, 2], noise: 0.2, seed: 77),
                                           initial: [0, 0])
        SimulatedBackend(engine: engine, costs: VirtualCosts(compute: 1, communication: 0.25)).run(events: 777)
        return (engine.master.center.array + engine.workers.flatMap { $0.parameters.array + $0.velocity.array }).map(\.bitPattern)
    }
    #expect(run() == run())
}

/// `build()` run 1000 events straight, and another stopped after 400, checkpointed, restored into a fresh `build()`
/// and run the other 600.
func straightAndResumed(_ build: () -> SimulatedBackend<Float>) throws -> (straight: SimulatedBackend<Float>, resumed: SimulatedBackend<Float>) {
    let straight = build()
    straight.run(events: 1000)
    let first = build()
    first.run(events: 400)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-engine-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("engine.ckpt").path
    try first.writeCheckpoint(to: path)
    let resumed = build()
    try resumed.restoreCheckpoint(from: path)
    resumed.run(events: 600)
    return (straight, resumed)
}

@Test(arguments: [Algorithm.easgd, .eamsgd, .adownpour, .mdownpour, .diloco, .asyncDiloco], [Schedule.clock, .random])
func simulatedRunResumedFromACheckpointIsBitIdentical(method: Algorithm, schedule: Schedule) throws {
    func build() -> SimulatedBackend<Float> {
        var objectives: [any Objective<Float>] = quadratics(3, curvatures: [1, 3], minimizer: [1, 2], noise: 0.2, seed: 5)
        objectives.insert(PoisonedQuadratic(after: 50), at: 2)       // a worker stops before the checkpoint
        let engine = ParallelEngine<Float>(settings: EngineSettings(method: method, workers: 4, learningRate: 0.05, tau: 3, momentum: 0.6, weightDecay: 0),
                                           objectives: objectives, initial: [0, 0])
        return SimulatedBackend(engine: engine, costs: VirtualCosts(compute: 1, communication: 0.3), schedule: schedule, orderSeed: 9)
    }
    func bits(_ s: SimulatedBackend<Float>) -> [UInt32] {
        let e = s.engine
        return (e.master.center.array + e.master.average.array + e.master.velocity.array
                + e.workers.flatMap { $0.parameters.array + $0.velocity.array + $0.accumulator.array }).map(\.bitPattern)
            + s.workerTimes.map { UInt32(truncatingIfNeeded: $0.bitPattern) }
    }
    let (straight, resumed) = try straightAndResumed(build)
    #expect(bits(resumed) == bits(straight))
    #expect(resumed.engine.stopped.map(\.worker) == straight.engine.stopped.map(\.worker) && straight.engine.stopped.map(\.worker) == [2])
    #expect(resumed.engine.master.clock == straight.engine.master.clock)
}

@Test(arguments: OuterOptimizer.allCases)
func dilocosEngineIsTheRoundWrittenOutByHand(outer: OuterOptimizer) {
    // The engine's DiLoCo on quadratics whose workers differ (their own curvatures and minimizers: heterogeneous
    // data), against the round written out here from the update equations with plain arrays (no Elastic call):
    // H inner SGD steps x ← x − γh_i(x − x*_i) from the center, Δ = x̃ − mean x_i, the outer step, every worker
    // back at the center. Stopped mid-round, the workers hold their inner iterates.
    let p = 3, n = 2, gamma = 0.3, steps = 4, etaO = 0.8, beta = 0.6
    let curvatures = [[1.0, 2.5], [0.5, 1.5], [2.0, 0.25]], minima = [[1.0, -1.0], [2.0, 0.5], [-1.0, 3.0]]
    let settings = EngineSettings(method: .diloco, workers: p, learningRate: gamma, tau: steps, weightDecay: 0,
                                  outer: OuterSettings(optimizer: outer, learningRate: etaO, momentum: beta))
    let objectives: [any Objective<Double>] = (0..<p).map { QuadraticObjective<Double>(curvatures: curvatures[$0], minimizer: minima[$0], noise: 0, seed: 1) }
    let engine = ParallelEngine<Double>(settings: settings, objectives: objectives, initial: [4, -2])
    let events = 5 * steps + 2
    SimulatedBackend(engine: engine).run(events: events)

    var center = [4.0, -2.0], velocity = [0.0, 0.0], xs = Array(repeating: center, count: p)
    for t in 1...events {
        for i in 0..<p { for k in 0..<n { xs[i][k] -= gamma * curvatures[i][k] * (xs[i][k] - minima[i][k]) } }
        guard t % steps == 0 else { continue }
        for k in 0..<n {
            let delta = center[k] - xs.map { $0[k] }.reduce(0, +) / Double(p)
            switch outer {
            case .sgd: center[k] -= etaO * delta
            case .heavyBall: velocity[k] = beta * velocity[k] + delta; center[k] -= etaO * velocity[k]
            case .nesterov: velocity[k] = beta * velocity[k] + delta; center[k] -= etaO * (delta + beta * velocity[k])
            }
        }
        xs = Array(repeating: center, count: p)
    }
    func close(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { isClose($0, $1, relative: 1e-13) } }
    #expect(close(engine.master.center.array, center), "\(engine.master.center.array) against \(center)")
    if outer != .sgd { #expect(close(engine.master.velocity.array, velocity)) } else { #expect(engine.master.velocity.count == 0) }
    for i in 0..<p { #expect(close(engine.workers[i].parameters.array, xs[i])) }
    #expect(engine.master.clock == 5 && engine.workers.allSatisfy { $0.exchanges == 5 && $0.clock == events })
}

@Test(arguments: OuterOptimizer.allCases)
func roundRobinAsynchronousDilocoReproducesTheDynamicsTrajectory(outer: OuterOptimizer) {
    // The engine's arrivals (the master's OuterStep.applyArrival on the pushed accumulator) and the round-robin
    // scheme's, bit for bit: workers, center and outer velocity after every round.
    let p = 3, x0 = 1000.0, o = OuterSettings(optimizer: outer, learningRate: 0.9, momentum: 0.6)
    let scheme = RoundRobinOuterScheme(workers: p, innerRate: 0.4, innerSteps: 3, outer: o)
    var state = [Double](repeating: x0, count: scheme.stateDimension)
    if o.keepsVelocity { state[p + 1] = 0 }
    let engine = ParallelEngine<Double>(settings: EngineSettings(method: .asyncDiloco, workers: p, learningRate: 0.4, tau: 3, weightDecay: 0, outer: o),
                                        objectives: quadratics(p, curvatures: [1], minimizer: [0]), initial: [x0])
    let simulator = SimulatedBackend(engine: engine, schedule: .roundRobin)
    for _ in 0..<40 {
        state.withUnsafeMutableBufferPointer { scheme.round($0) }
        simulator.run(events: p)
        for i in 0..<p { #expect(engine.workers[i].parameters[0].bitPattern == state[i].bitPattern, "\(outer) worker \(i)") }
        #expect(engine.master.center[0].bitPattern == state[p].bitPattern, "\(outer) center")
        if o.keepsVelocity { #expect(engine.master.velocity[0].bitPattern == state[p + 1].bitPattern, "\(outer) velocity") }
    }
}

@Test func asynchronousDilocoWithOuterSGDAtRatePIsTheDownpourEngine() {
    // Outer SGD at η_o = p on −acc/p is DOWNPOUR's push: with p = 4 the scaling by 1/4 and back is exact in binary,
    // so the two engines agree bit for bit on a noisy quadratic in clock order.
    func run(_ settings: EngineSettings) -> [UInt32] {
        let engine = ParallelEngine<Float>(settings: settings, objectives: quadratics(4, curvatures: [1, 3], minimizer: [1, 2], noise: 0.2, seed: 9),
                                           initial: [0, 0])
        SimulatedBackend(engine: engine, costs: VirtualCosts(compute: 1, communication: 0.3)).run(events: 600)
        return (engine.master.center.array + engine.workers.flatMap(\.parameters.array)).map(\.bitPattern)
    }
    let downpour = run(EngineSettings(method: .downpour, workers: 4, learningRate: 0.05, tau: 3, weightDecay: 0))
    let outer = run(EngineSettings(method: .asyncDiloco, workers: 4, learningRate: 0.05, tau: 3, weightDecay: 0,
                                   outer: OuterSettings(optimizer: .sgd, learningRate: 4)))
    #expect(downpour == outer)
}

@Test func aDilocoWorkerThatStopsIsLeftOutOfTheRound() {
    // A worker poisoned before a round's end stops; the round's pseudo-gradient is the others' mean, and the center
    // stays finite.
    var objectives: [any Objective<Float>] = quadratics(2, curvatures: [1, 3], minimizer: [1, 2], noise: 0, seed: 3)
    objectives.insert(PoisonedQuadratic(after: 6), at: 1)
    let engine = ParallelEngine<Float>(settings: EngineSettings(method: .diloco, workers: 3, learningRate: 0.1, tau: 4, weightDecay: 0),
                                       objectives: objectives, initial: [0, 0])
    SimulatedBackend(engine: engine).run(events: 160)
    #expect(engine.stopped.map(\.worker) == [1] && engine.master.center.isFinite)
    let c = engine.master.center.array.map(Double.init)
    #expect(isClose(c[0], 1, relative: 0.01) && isClose(c[1], 2, relative: 0.01), "\(c)")
    // The first round had all three; the poisoned worker stopped in the second (its 7th evaluation).
    #expect(engine.workers[0].exchanges == 40 && engine.workers[2].exchanges == 40 && engine.master.accepted == 3 + 2 * 39)
}

@Test(arguments: [Algorithm.diloco, .syncEasgd])
func aSynchronousRoundOnTheLinksWaitsForEveryWorkersRequest(method: Algorithm) {
    // Closed forms: p = 3 workers, n = 2 parameters, 1 s of compute a step, an exchange every H = 4 steps (each
    // step for sync-EASGD). One server at latency 0.5 s and 8 bytes/s serves a Float32 request (16 bytes) in
    // 0.5 + 16/8 = 2.5 s; the three leave together and queue, so a round's exchange costs 7.5 s. With int8 sent
    // (2 values + one 4-byte scale = 6 bytes, 8 back): 0.5 + 14/8 = 2.25 s a request, 6.75 s a round. Two servers
    // (one value each): 0.5 + 8/8 = 1.5 s per request per server, 4.5 s a round.
    func clock(servers: Int, int8: Bool) -> (now: Double, communication: Double) {
        let tau = method == .diloco ? 4 : 1
        var settings = EngineSettings(method: method, workers: 3, learningRate: 0.1, tau: tau, weightDecay: 0)
        if int8 && method == .diloco { settings.compression = Compression(codec: Codec(.int8), errorFeedback: false) }
        let engine = ParallelEngine<Float>(settings: settings, objectives: quadratics(3, curvatures: [1, 3], minimizer: [1, 2], noise: 0, seed: 3),
                                           initial: [0, 0])
        let links = ServerLinks(servers: servers, latency: 0.5, bandwidth: 8)
        let sim = SimulatedBackend(engine: engine, costs: VirtualCosts(compute: 1, links: links))
        sim.run(events: 5 * tau)                 // five rounds
        return (sim.now, sim.communicationTime)
    }
    let tau = method == .diloco ? 4.0 : 1.0
    let one = clock(servers: 1, int8: false)
    #expect(isClose(one.now, 5 * (tau + 7.5), relative: 1e-12) && isClose(one.communication, 3 * 5 * 7.5, relative: 1e-12), "\(one)")
    #expect(isClose(clock(servers: 2, int8: false).now, 5 * (tau + 4.5), relative: 1e-12))
    if method == .diloco { #expect(isClose(clock(servers: 1, int8: true).now, 5 * (tau + 6.75), relative: 1e-12)) }
}

@Test func mdownpourWithOneWorkerIsMSGD() {
    // The experiments' MSGD reference on the virtual clock relies on this.
    let engine = ParallelEngine<Float>(settings: EngineSettings(method: .mdownpour, workers: 1, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3),
                                       objectives: quadratics(1, curvatures: [0.5, 2], minimizer: [1, -1], noise: 0.3, seed: 4),
                                       initial: [3, 3])
    SimulatedBackend(engine: engine).run(events: 200)
    let objective = QuadraticObjective<Float>(curvatures: [0.5, 2], minimizer: [1, -1], noise: 0.3, seed: 4)
    let msgd = SequentialOptimizer(settings: OptimizerSettings(method: .msgd, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3), count: 2)
    msgd.parameters[0] = 3; msgd.parameters[1] = 3
    for _ in 0..<200 { _ = msgd.step(objective) }
    let same = engine.master.center.array.map(\.bitPattern) == msgd.parameters.array.map(\.bitPattern)
        && engine.master.velocity.array.map(\.bitPattern) == msgd.velocity.array.map(\.bitPattern)
    #expect(same)
}

@Test func evaluationIntervalsReadOldAndNewConfigs() throws {
    // config.json written before seconds existed holds a bare step count; newer ones hold "N" or "Ss".
    let decode = { (json: String) in try JSONDecoder().decode([EvaluationInterval].self, from: Data(json.utf8)) }
    #expect(try decode("[500, \"500\", \"30s\", \"0.25s\"]") == [.steps(500), .steps(500), .seconds(30), .seconds(0.25)])
    let written = String(decoding: try JSONEncoder().encode([EvaluationInterval.steps(7), .seconds(1.5)]), as: UTF8.self)
    #expect(written == "[\"7\",\"1.5s\"]")
    for bad in ["[0]", "[\"0s\"]", "[\"-3\"]", "[\"s\"]", "[\"ten\"]"] { #expect(throws: (any Error).self) { try decode(bad) } }
}

@Test func onlyTheSimulatorRunsADMMsFixedOrder() throws {
    // Sync-EASGD and DiLoCo step every worker together, which every backend does (threads: a thread per worker in
    // lockstep; MPI: a rank per worker, in lockstep through rank 0, with any number of servers); ADMM keeps a
    // fixed round-robin order, the simulator's only. A method given no backend goes to threads where it can run.
    for method in Algorithm.allCases where method.isParallel {
        #expect(Backend.simulated.canRun(method))
        #expect(Backend.threads.canRun(method) == (method != .admm), "\(method)")
        #expect(Backend.mpi.canRun(method) == (method != .admm), "\(method)")
        #expect(Backend.preferred(for: method) == (method == .admm ? .simulated : .threads), "\(method)")
        if method == .admm {
            #expect(throws: SettingsError.self) { try Backend.mpi.check(method) }
        } else {
            #expect(throws: Never.self) { try Backend.mpi.check(method) }
        }
    }
}

@Test(arguments: [(OuterOptimizer.nesterov, [1.0], 0.0), (.heavyBall, [1.0], 0.0), (.sgd, [1.0], 0.0), (.nesterov, [0.5, 1.5, 1.0, 2.0], 0.0),
                  (.nesterov, [1.0], 0.5)])
func dilocosNoisyCenterHasTheLyapunovMSE(outer: OuterOptimizer, curvatures: [Double], innerMomentum: Double) throws {
    // The engine with Gaussian gradient noise (each worker its own stream, its own curvature h_i on one shared
    // minimizer) against the stationary MSE of the center from the noisy round's Lyapunov equation. The time
    // average of (x̃ − x*)² at the ends of 30,000 rounds after a burn-in, with a batch-means standard error.
    let p = curvatures.count == 1 ? 4 : curvatures.count, gamma = 0.3, steps = 4, sigma = 0.7
    let o = OuterSettings(optimizer: outer, learningRate: 0.7, momentum: 0.6, innerMomentum: innerMomentum)
    let scheme = o.round(workers: p, innerRate: gamma, innerSteps: steps, curvatures: curvatures)
    let predicted = try #require(try scheme.stationaryCenterMSE(sigma: sigma))
    let objectives: [any Objective<Double>] = (0..<p).map {
        QuadraticObjective<Double>(curvatures: [curvatures.count == 1 ? curvatures[0] : curvatures[$0]], minimizer: [2], noise: sigma,
                                   seed: 100 + UInt64($0))
    }
    let engine = ParallelEngine<Double>(settings: EngineSettings(method: .diloco, workers: p, learningRate: gamma, tau: steps,
                                                                 weightDecay: 0, outer: o),
                                        objectives: objectives, initial: [2])
    let (mean, se) = centerMeanSquare(SimulatedBackend(engine: engine), burnIn: 200, rounds: 30_000, eventsPerRound: steps, batch: 1_000, minimum: 2)
    #expect(abs(mean - predicted) < 4 * se, "\(outer) h = \(curvatures): engine \(mean) ± \(se), Lyapunov \(predicted)")
    #expect(se < 0.03 * predicted, "the test resolves 3 %: \(se) against \(predicted)")
}

@Test(arguments: [(CodecFormat.none, CodecRounding.nearest, false, 0.7), (.int4, .stochastic, false, 0.7), (.int4, .stochastic, true, 0.7),
                  (.int4, .nearest, false, 0.7), (.int8, .stochastic, false, 0.7), (.int4, .stochastic, false, 1.4), (.int4, .stochastic, true, 1.4)])
func quantisedPseudoGradientsHaveTheModelsCenterMSE(format: CodecFormat, rounding: CodecRounding, errorFeedback: Bool, outerRate: Double) throws {
    // DiLoCo (p = 2, H = 4, γ = 0.3, Nesterov 0.7/0.9) with Gaussian gradient noise on an isotropic quadratic of 512
    // coordinates (two int blocks of 256), every pseudo-gradient through the real codec, against the multiplicative
    // noise model (Dynamics/QuantisationNoise.swift). The time average over coordinates and 3,000 rounds after a
    // burn-in of (x̃ − x*)², with a batch-means standard error; the model must lie within 4 of them, and where the
    // model's effect is large (int4: +2.7 % nearest, +5.4 % stochastic, +7.4 % stochastic with error feedback, which
    // raises the MSE here) the test must resolve it by 10 of them. Measured 2026-12-06 at η_o = 0.7: engine/model
    // 0.09089/0.09095 (none), 0.09575/0.09583, 0.09747/0.09766 (EF), 0.09333/0.09337 (nearest), 0.09090/0.09096 (int8),
    // SE ≈ 0.00015; at η_o = 1.4 (uncompressed 0.3960): 0.4499/0.4489 (± 0.0009), with EF 0.6141/0.6229 (± 0.0017).
    let p = 2, gamma = 0.3, steps = 4, sigma = 0.7, n = 512
    let o = OuterSettings(optimizer: .nesterov, learningRate: outerRate, momentum: 0.9)
    let scheme = o.round(workers: p, innerRate: gamma, innerSteps: steps, curvatures: [1])
    let codec = Codec(format, rounding: rounding)
    let uncompressed = try #require(try scheme.stationaryCenterMSE(sigma: sigma))
    let predicted: Double
    if let noise = QuantisationNoise(codec: codec, errorFeedback: errorFeedback) {
        predicted = try #require(try scheme.stationaryCenterMSE(sigma: sigma, quantisation: noise)).centerMSE
    } else {
        predicted = uncompressed
    }
    var settings = EngineSettings(method: .diloco, workers: p, learningRate: gamma, tau: steps, weightDecay: 0, outer: o)
    if format != .none { settings.compression = Compression(codec: codec, errorFeedback: errorFeedback) }
    let objectives: [any Objective<Double>] = (0..<p).map {
        QuadraticObjective<Double>(curvatures: [Double](repeating: 1, count: n), minimizer: [Double](repeating: 2, count: n), noise: sigma,
                                   seed: 300 + UInt64($0))
    }
    let engine = ParallelEngine<Double>(settings: settings, objectives: objectives, initial: [Double](repeating: 2, count: n))
    let (mean, se) = centerMeanSquare(SimulatedBackend(engine: engine), burnIn: 100, rounds: 3_000, eventsPerRound: steps, batch: 100, minimum: 2)
    // With error feedback the message carries the last error, which is bounded (uniform-like), not Gaussian: its
    // block maxima are smaller than the model's Gaussian c_B, and the model over-predicts (1.4 %, 5 standard errors,
    // at η_o = 1.4): it is allowed 2 % there.
    let allowance = errorFeedback ? 0.02 * predicted : 0
    #expect(abs(mean - predicted) < 4 * se + allowance,
            "η_o \(outerRate) \(format) \(rounding) EF \(errorFeedback): engine \(mean) ± \(se), model \(predicted) (uncompressed \(uncompressed))")
    #expect(se < 0.003 * predicted, "the test resolves 0.3 %: \(se) against \(predicted)")
    // The rival "compression changes nothing" is rejected where the model says it matters (int4: +2.7 % to +57 %).
    if format == .int4 { #expect(abs(predicted - uncompressed) > 10 * se, "\(predicted) against \(uncompressed) ± \(se)") }
}

/// The center's mean square deviation from `minimum` (averaged over its coordinates) at the end of each of `rounds`
/// rounds after `burnIn`, with a batch-means standard error (batches of `batch` rounds): the Monte Carlo the
/// noise models are held to.
private func centerMeanSquare(_ simulator: SimulatedBackend<Double>, burnIn: Int, rounds: Int, eventsPerRound: Int, batch: Int,
                              minimum: Double) -> (mean: Double, se: Double) {
    let center = simulator.engine.master.center, n = center.count
    simulator.run(events: burnIn * eventsPerRound)
    var batches: [Double] = [], sum = 0.0
    for r in 1...rounds {
        simulator.run(events: eventsPerRound)
        var squares = 0.0
        for j in 0..<n { let d = center[j] - minimum; squares += d * d }
        sum += squares / Double(n)
        if r % batch == 0 { batches.append(sum / Double(batch)); sum = 0 }
    }
    let mean = batches.reduce(0, +) / Double(batches.count)
    let se = (batches.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(batches.count - 1) / Double(batches.count)).squareRoot()
    return (mean, se)
}

/// Round-robin points for the coded exchange's Monte Carlo: (method, p, η, α, τ, δ).
private let codedPoints: [(Algorithm, Int, Double, Double, Int, Double)] = [
    (.easgd, 2, 1.0, 0.3, 1, 0), (.easgd, 4, 0.5, 0.2, 4, 0), (.easgd, 2, 1.5, 0.2, 1, 0), (.eamsgd, 4, 0.1, 0.2, 4, 0.9),
]

@Test(arguments: [(0, CodecFormat.none, CodecRounding.nearest), (0, .fp16, .nearest), (0, .int8, .stochastic), (0, .int4, .nearest),
                  (0, .int4, .stochastic), (1, .int4, .nearest), (1, .int4, .stochastic), (2, .int4, .stochastic),
                  (3, .none, .nearest), (3, .int4, .nearest), (3, .int4, .stochastic)])
func codedExchangesHaveTheModelsCenterMSE(point: Int, format: CodecFormat, rounding: CodecRounding) throws {
    // Round-robin EASGD and EAMSGD with Gaussian gradient noise on an isotropic quadratic of 512 coordinates (two int
    // blocks of 256), every exchange coded through the real codec (x − s, train --compress), against the model of
    // Dynamics/CodedExchangeNoise.swift: the time average over coordinates and 1,500 rounds after a burn-in of
    // (x̃ − x*)² at the end of each round, with a batch-means standard error; the model must lie within 4 of them, and
    // where its effect is large (int4 stochastic: +7.1 %, +4.9 %, +21.9 % and, EAMSGD at δ = 0.9, +2.8 % at the four
    // points) the test must resolve it by 10. Measured 2026-12-06 (engine/model, ± SE): see notebook 06, section 8.
    let (method, p, eta, alpha, tau, delta) = codedPoints[point]
    let sigma = 0.7, n = 512
    let model: (Double) throws -> CodedExchangeNoise? = method == .easgd
        ? { try RoundRobinEASGD(workers: p, eta: eta, alpha: alpha, tau: tau).codedExchangeNoise(sigma: sigma, kappa: $0) }
        : { try RoundRobinEAMSGD(workers: p, eta: eta, alpha: alpha, momentum: delta, tau: tau).codedExchangeNoise(sigma: sigma, kappa: $0) }
    let codec = Codec(format, rounding: rounding)
    let uncompressed = try #require(try model(0)).centerMSE
    let kappa = QuantisationNoise(codec: codec, errorFeedback: false)?.kappa ?? 0
    let predicted = try #require(try model(kappa)).centerMSE
    var settings = EngineSettings(method: method, workers: p, learningRate: eta, alpha: alpha, tau: tau, momentum: delta, weightDecay: 0)
    if format != .none { settings.compression = Compression(codec: codec, errorFeedback: false) }
    let objectives: [any Objective<Double>] = (0..<p).map {
        QuadraticObjective<Double>(curvatures: [Double](repeating: 1, count: n), minimizer: [Double](repeating: 2, count: n), noise: sigma,
                                   seed: 500 + UInt64($0))
    }
    let engine = ParallelEngine<Double>(settings: settings, objectives: objectives, initial: [Double](repeating: 2, count: n))
    let (mean, se) = centerMeanSquare(SimulatedBackend(engine: engine, schedule: .roundRobin), burnIn: 100, rounds: 1_500,
                                      eventsPerRound: p * tau, batch: 100, minimum: 2)
    #expect(abs(mean - predicted) < 4 * se,
            "\(method) p \(p) η \(eta) α \(alpha) τ \(tau) δ \(delta) \(format) \(rounding): engine \(mean) ± \(se), model \(predicted) (uncompressed \(uncompressed))")
    #expect(se < 0.004 * predicted, "the test resolves 0.4 %: \(se) against \(predicted)")
    // The rival "coding changes nothing" is rejected where the model says it matters.
    if format == .int4, rounding == .stochastic { #expect(abs(predicted - uncompressed) > 10 * se, "\(predicted) against \(uncompressed) ± \(se)") }
    print("coded exchange \(method) p \(p) η \(eta) α \(alpha) τ \(tau) δ \(delta) \(format) \(rounding): engine \(mean) ± \(se), model \(predicted), uncompressed model \(uncompressed)")
}

@Test(arguments: [false, true])
func aCompressedPushIsWhatTheCodecDecodes(errorFeedback: Bool) {
    // One DOWNPOUR worker (τ = 3) on a noiseless quadratic with int4 pushes, against the recursion written here:
    // three SGD steps accumulated, acc + r through the codec (encode, decode: CodecTests holds those to their
    // bounds), the center moved by what was decoded, r the remainder (error feedback) or nothing, the worker back at
    // the center. Float throughout, as the codec is.
    let codec = Codec(.int4, blockSize: 2), compression = Compression(codec: codec, errorFeedback: errorFeedback)
    var settings = EngineSettings(method: .downpour, workers: 1, learningRate: 0.3, tau: 3, weightDecay: 0)
    settings.compression = compression
    let curvatures: [Double] = [1, 2.5, 0.3], minimum: [Double] = [1, -2, 0.5]
    let engine = ParallelEngine<Float>(settings: settings, objectives: [QuadraticObjective<Float>(curvatures: curvatures, minimizer: minimum)],
                                       initial: [4, 4, -3])
    SimulatedBackend(engine: engine).run(events: 3 * 20)

    var center: [Float] = [4, 4, -3], residual: [Float] = [0, 0, 0], lost = false
    for _ in 0..<20 {
        var x = center, acc: [Float] = [0, 0, 0]
        for _ in 0..<3 {
            for k in 0..<3 {
                let g = Float(curvatures[k]) * (x[k] - Float(minimum[k]))
                acc[k] -= 0.3 * g
                x[k] -= 0.3 * g
            }
        }
        let corrected = (0..<3).map { acc[$0] + (errorFeedback ? residual[$0] : 0) }
        let decoded = codecRoundTrip(codec, corrected)
        if errorFeedback { residual = (0..<3).map { corrected[$0] - decoded[$0] } }
        lost = lost || corrected != decoded
        for k in 0..<3 { center[k] += decoded[k] }
    }
    #expect(engine.master.center.array.map(\.bitPattern) == center.map(\.bitPattern), "\(engine.master.center.array) against \(center)")
    #expect(engine.workers[0].residual.array.map(\.bitPattern) == (errorFeedback ? residual : []).map(\.bitPattern))
    // int4 with blocks of two loses something on the way (so the codec was in the path).
    #expect(lost)
}

@Test func aCompressedDilocoRoundSendsEachPseudoGradientThroughTheCodec() {
    // Two DiLoCo workers (H = 2, outer SGD at η_o = 0.9) with their own curvatures, bf16 pseudo-gradients with error
    // feedback, against the round written here: each worker's x̃ − x_i + r_i through the codec, x_i = x̃ − decoded,
    // then Δ = x̃ − mean x_i and x̃ ← x̃ − η_o Δ.
    let codec = Codec(.bf16), h: [[Float]] = [[1, 3], [0.5, 2]]
    var settings = EngineSettings(method: .diloco, workers: 2, learningRate: 0.2, tau: 2, weightDecay: 0,
                                  outer: OuterSettings(optimizer: .sgd, learningRate: 0.9))
    settings.compression = Compression(codec: codec, errorFeedback: true)
    let objectives: [any Objective<Float>] = (0..<2).map { QuadraticObjective<Float>(curvatures: h[$0].map(Double.init), minimizer: [1, -1]) }
    let engine = ParallelEngine<Float>(settings: settings, objectives: objectives, initial: [3.3, 0.7])
    SimulatedBackend(engine: engine).run(events: 2 * 15)

    var center: [Float] = [3.3, 0.7], residual: [[Float]] = [[0, 0], [0, 0]]
    let minimum: [Float] = [1, -1]
    for _ in 0..<15 {
        var xs = [center, center]
        for i in 0..<2 { for _ in 0..<2 { for k in 0..<2 { xs[i][k] -= 0.2 * (h[i][k] * (xs[i][k] - minimum[k])) } } }
        for i in 0..<2 {
            let corrected = (0..<2).map { (center[$0] - xs[i][$0]) + residual[i][$0] }
            let decoded = codecRoundTrip(codec, corrected)
            residual[i] = (0..<2).map { corrected[$0] - decoded[$0] }
            xs[i] = (0..<2).map { center[$0] - decoded[$0] }
        }
        for k in 0..<2 { center[k] -= 0.9 * (center[k] - 0.5 * (xs[0][k] + xs[1][k])) }
    }
    #expect(engine.master.center.array.map(\.bitPattern) == center.map(\.bitPattern), "\(engine.master.center.array) against \(center)")
    for i in 0..<2 { #expect(engine.workers[i].residual.array.map(\.bitPattern) == residual[i].map(\.bitPattern)) }
}

@Test func aCompressedRoundWithCompressedRepliesStartsFromWhatTheWorkerDecoded() {
    // Two DiLoCo workers (H = 2, outer SGD at η_o = 0.9), int4 pseudo-gradients and int4 replies (blocks of two,
    // nearest), against the round written here: each worker starts from r_i, the center as it decoded it; its
    // message is r_i − x_i (what it can know), the master rebuilds x_i = r_i − decoded from its copy of r_i, takes
    // Δ = x̃ − mean x_i and x̃ ← x̃ − η_o Δ, and each reply is r_i += decode(encode(x̃ − r_i)).
    let codec = Codec(.int4, blockSize: 2), h: [[Float]] = [[1, 3], [0.5, 2]]
    var settings = EngineSettings(method: .diloco, workers: 2, learningRate: 0.2, tau: 2, weightDecay: 0,
                                  outer: OuterSettings(optimizer: .sgd, learningRate: 0.9))
    settings.compression = Compression(codec: codec, errorFeedback: false)
    settings.replyCompression = codec
    let objectives: [any Objective<Float>] = (0..<2).map { QuadraticObjective<Float>(curvatures: h[$0].map(Double.init), minimizer: [1, -1]) }
    let engine = ParallelEngine<Float>(settings: settings, objectives: objectives, initial: [3.3, 0.7])
    SimulatedBackend(engine: engine).run(events: 2 * 15)

    var center: [Float] = [3.3, 0.7], references: [[Float]] = [[3.3, 0.7], [3.3, 0.7]]
    let minimum: [Float] = [1, -1]
    for _ in 0..<15 {
        var xs = references
        for i in 0..<2 { for _ in 0..<2 { for k in 0..<2 { xs[i][k] -= 0.2 * (h[i][k] * (xs[i][k] - minimum[k])) } } }
        for i in 0..<2 {
            let decoded = codecRoundTrip(codec, (0..<2).map { references[i][$0] - xs[i][$0] })
            xs[i] = (0..<2).map { references[i][$0] - decoded[$0] }
        }
        for k in 0..<2 { center[k] -= 0.9 * (center[k] - 0.5 * (xs[0][k] + xs[1][k])) }
        for i in 0..<2 {
            let decoded = codecRoundTrip(codec, (0..<2).map { center[$0] - references[i][$0] })
            references[i] = (0..<2).map { references[i][$0] + decoded[$0] }
        }
    }
    #expect(engine.master.center.array.map(\.bitPattern) == center.map(\.bitPattern), "\(engine.master.center.array) against \(center)")
    for i in 0..<2 {
        #expect(engine.workers[i].replyReference.array.map(\.bitPattern) == references[i].map(\.bitPattern))
        #expect(engine.workers[i].parameters.array.map(\.bitPattern) == references[i].map(\.bitPattern), "the worker restarts at r_i")
    }
    #expect(references[0] != center, "int4 replies leave the references off the center (the test would not see the start otherwise)")
}

@Test(arguments: [false, true])
func dilocosInnerNesterovEngineIsTheScheme(kept: Bool) {
    // The engine's inner Nesterov (reset at each restart, or kept) against the synchronous scheme's round, probed
    // state and all, bit for bit: the center, the outer velocity and (kept) each worker's velocity after every round.
    let p = 3, steps = 3, x0 = 100.0
    let o = OuterSettings(optimizer: .nesterov, learningRate: 0.7, momentum: 0.9, innerMomentum: 0.8, keepsInnerVelocity: kept)
    let scheme = o.round(workers: p, innerRate: 0.2, innerSteps: steps, curvatures: [1])
    var state = [Double](repeating: 0, count: scheme.stateDimension)
    state[0] = x0
    let engine = ParallelEngine<Double>(settings: EngineSettings(method: .diloco, workers: p, learningRate: 0.2, tau: steps, weightDecay: 0, outer: o),
                                        objectives: quadratics(p, curvatures: [1], minimizer: [0]), initial: [x0])
    let simulator = SimulatedBackend(engine: engine)
    #expect(scheme.stateDimension == (kept ? 2 + p : 2))
    for _ in 0..<30 {
        scheme.round(&state)
        simulator.run(events: steps)
        #expect(engine.master.center[0].bitPattern == state[0].bitPattern && engine.master.velocity[0].bitPattern == state[1].bitPattern)
        for i in 0..<p { #expect(engine.workers[i].velocity[0].bitPattern == (kept ? state[2 + i] : 0).bitPattern, "worker \(i)") }
    }
}

@Test func aCompressedReplyIsTheCenterDeltaCodedAgainstWhatTheWorkerHas() {
    // One DOWNPOUR worker (τ = 3) on a noiseless quadratic with int4 replies (blocks of two, nearest rounding),
    // against the recursion written here: three SGD steps accumulated, the center moved by the whole update (the
    // push is not compressed), then r ← r + decode(encode(x̃ − r)) and the worker at r. Float throughout.
    let codec = Codec(.int4, blockSize: 2)
    var settings = EngineSettings(method: .downpour, workers: 1, learningRate: 0.3, tau: 3, weightDecay: 0)
    settings.replyCompression = codec
    let curvatures: [Double] = [1, 2.5, 0.3], minimum: [Double] = [1, -2, 0.5]
    let engine = ParallelEngine<Float>(settings: settings, objectives: [QuadraticObjective<Float>(curvatures: curvatures, minimizer: minimum)],
                                       initial: [4, 4, -3])
    SimulatedBackend(engine: engine).run(events: 3 * 20)

    var center: [Float] = [4, 4, -3], reference = center, x = center, lost = false
    for _ in 0..<20 {
        var acc: [Float] = [0, 0, 0]
        for _ in 0..<3 {
            for k in 0..<3 {
                let g = Float(curvatures[k]) * (x[k] - Float(minimum[k]))
                acc[k] -= 0.3 * g
                x[k] -= 0.3 * g
            }
        }
        for k in 0..<3 { center[k] += acc[k] }
        let difference = (0..<3).map { center[$0] - reference[$0] }
        let decoded = codecRoundTrip(codec, difference)
        lost = lost || decoded != difference
        for k in 0..<3 { reference[k] += decoded[k] }
        x = reference
    }
    #expect(engine.master.center.array.map(\.bitPattern) == center.map(\.bitPattern), "\(engine.master.center.array) against \(center)")
    #expect(engine.workers[0].parameters.array.map(\.bitPattern) == x.map(\.bitPattern), "\(engine.workers[0].parameters.array) against \(x)")
    #expect(engine.workers[0].replyReference.array.map(\.bitPattern) == reference.map(\.bitPattern))
    #expect(lost, "int4 with blocks of two loses something on the way (so the codec was in the path)")
    // What a reply misses goes with the next: the worker stays within one reply's error of the center.
    #expect(zip(x, center).allSatisfy { abs($0 - $1) < 0.5 })
}

@Test(arguments: [Algorithm.downpour, .asyncDiloco, .diloco])
func aRunWithCompressedRepliesResumesBitForBit(method: Algorithm) throws {
    // int4 replies (blocks of two) with stochastic rounding (coins from the worker and its clock), with a worker
    // that stops before the checkpoint: stopped at 400 events and resumed, the system (references included) is the
    // straight run's.
    func build() -> SimulatedBackend<Float> {
        var objectives: [any Objective<Float>] = quadratics(3, curvatures: [1, 3], minimizer: [1, 2], noise: 0.2, seed: 5)
        objectives.insert(PoisonedQuadratic(after: 50), at: 2)
        var settings = EngineSettings(method: method, workers: 4, learningRate: 0.05, tau: 3, weightDecay: 0)
        settings.replyCompression = Codec(.int4, rounding: .stochastic, blockSize: 2)
        let engine = ParallelEngine<Float>(settings: settings, objectives: objectives, initial: [0, 0])
        return SimulatedBackend(engine: engine, costs: VirtualCosts(compute: 1, communication: 0.3))
    }
    func bits(_ s: SimulatedBackend<Float>) -> [UInt32] {
        let e = s.engine
        return (e.master.center.array + e.master.velocity.array + e.workers.flatMap { $0.parameters.array + $0.accumulator.array + $0.replyReference.array })
            .map(\.bitPattern)
    }
    let (straight, resumed) = try straightAndResumed(build)
    #expect(bits(resumed) == bits(straight))
    #expect(straight.engine.workers[0].replyReference.count == 2)
}

@Test(arguments: [Algorithm.easgd, .eamsgd])
func aCodedEASGDExchangeIsTheRecursionWrittenOut(method: Algorithm) {
    // One worker (τ = 2, α = 0.3) on a noiseless quadratic with int4 messages (blocks of two, nearest rounding),
    // against the recursion written here from the rule (x − s through the codec, s += m̂, d = α(s − x̃), s −= d,
    // x̃ += d, x −= d, then the local step with the gradient taken before the exchange). EAMSGD: the gradient at the
    // look-ahead point x + δv and Nesterov's step. Float throughout, as the codec is.
    let codec = Codec(.int4, blockSize: 2), eta: Float = 0.3, alpha: Float = 0.3, delta: Float = method == .eamsgd ? 0.5 : 0
    var settings = EngineSettings(method: method, workers: 1, learningRate: Double(eta), alpha: Double(alpha), tau: 2,
                                  momentum: Double(delta), weightDecay: 0)
    settings.compression = Compression(codec: codec, errorFeedback: false)
    let curvatures: [Double] = [1, 2.5, 0.3], minimum: [Double] = [1, -2, 0.5]
    let engine = ParallelEngine<Float>(settings: settings, objectives: [QuadraticObjective<Float>(curvatures: curvatures, minimizer: minimum)],
                                       initial: [4, 4, -3])
    SimulatedBackend(engine: engine).run(events: 40)

    var center: [Float] = [4, 4, -3], x = center, s = center, v: [Float] = [0, 0, 0], lost = false
    for t in 0..<40 {
        let point = (0..<3).map { x[$0] + delta * v[$0] }
        let g = (0..<3).map { Float(curvatures[$0] * (Double(point[$0]) - minimum[$0])) }      // the objective's, in Double
        if t % 2 == 0 {
            let message = (0..<3).map { x[$0] - s[$0] }
            let decoded = codecRoundTrip(codec, message)
            lost = lost || decoded != message
            for k in 0..<3 {
                s[k] += decoded[k]
                let d = alpha * (s[k] - center[k])
                s[k] -= d
                center[k] += d
                x[k] -= d
            }
        }
        for k in 0..<3 {
            if method == .eamsgd {
                v[k] = delta * v[k] - eta * g[k]
                x[k] += v[k]
            } else {
                x[k] -= eta * g[k]
            }
        }
    }
    #expect(engine.master.center.array.map(\.bitPattern) == center.map(\.bitPattern), "\(engine.master.center.array) against \(center)")
    #expect(engine.workers[0].parameters.array.map(\.bitPattern) == x.map(\.bitPattern), "\(engine.workers[0].parameters.array) against \(x)")
    #expect(engine.workers[0].sentReference.array.map(\.bitPattern) == s.map(\.bitPattern))
    #expect(lost, "int4 with blocks of two loses something on the way (so the codec was in the path)")
}

/// decode(encode(values)) with the codec itself (nearest rounding draws no coins): the tests' written-out recursions.
private func codecRoundTrip(_ codec: Codec, _ values: [Float]) -> [Float] {
    var bytes = [UInt8](repeating: 0, count: codec.encodedBytes(count: values.count)), decoded = [Float](repeating: 0, count: values.count)
    var unused = SplitMix64(seed: 0)
    bytes.withUnsafeMutableBytes { raw in
        values.withUnsafeBufferPointer { codec.encode($0, into: raw, random: &unused) }
        decoded.withUnsafeMutableBufferPointer { codec.decode(UnsafeRawBufferPointer(raw), into: $0) }
    }
    return decoded
}

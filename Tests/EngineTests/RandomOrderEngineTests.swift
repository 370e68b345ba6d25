// The simulator in random order against the random-order maps' second-moment recursion: over many seeds of the
// order, the engine's mean squares after t activations are E[s sᵀ] = Tᵗ(s₀s₀ᵀ), T(C) = (1/p) Σ_i F_i C F_iᵀ
// computed exactly by Dynamics (each activation τ steps of a uniformly drawn worker). The same runs in round-robin
// order land far from it, so the test tells the orders apart.
import Dynamics
import Elastic
@testable import Engine
import Foundation
import NumericTesting
import Testing
import Training

@Test(arguments: [(Algorithm.downpour, 0.0, 1, 0.7), (.easgd, 0.0, 2, 0.6), (.eamsgd, 0.5, 1, 0.5)])
func randomOrderEngineMeetsTheSecondMomentRecursion(method: Algorithm, momentum: Double, tau: Int, eta: Double) throws {
    let p = 3, h = 1.0, x0 = 1.0, alpha = 0.3, activations = 9, seeds = 4000
    let scheme = makeScheme(method, workers: p, eta: eta, coupling: .alpha(alpha), h: h, momentum: momentum, tau: tau)
    let n = scheme.stateDimension, c = n - 1
    var start = [Double](repeating: 0, count: n)
    for i in 0..<p { start[i * scheme.blockSize] = x0 }
    start[c] = x0
    var moment = Matrix(rows: n, columns: n)
    for i in 0..<n { for j in 0..<n { moment[i, j] = start[i] * start[j] } }
    let random = RandomOrderScheme(scheme)
    for _ in 0..<activations { moment = random.secondMomentStep(moment) }

    func run(_ schedule: Schedule, seed: UInt64) -> (center: Double, worker: Double) {
        let settings = EngineSettings(method: method, workers: p, learningRate: eta, alpha: alpha, tau: tau, momentum: momentum, weightDecay: 0)
        let engine = ParallelEngine<Double>(settings: settings, objectives: quadratics(p, curvatures: [h], minimizer: [0]), initial: [x0])
        SimulatedBackend(engine: engine, schedule: schedule, orderSeed: seed).run(events: activations)
        return (engine.master.center[0], engine.workers[0].parameters[0])
    }
    let samples = (1...UInt64(seeds)).map { run(.random, seed: $0) }
    for (name, index, values) in [("center", c, samples.map(\.center)), ("worker 0", 0, samples.map(\.worker))] {
        let squares = values.map { $0 * $0 }
        let mean = squares.reduce(0, +) / Double(seeds)
        let sd = (squares.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(seeds - 1)).squareRoot()
        let se = sd / Double(seeds).squareRoot(), exact = moment[index, index]
        #expect(abs(mean - exact) < 4 * se, "\(method) \(name): E[x²] Monte Carlo \(mean) ± \(se) against Tᵗ's \(exact)")
        // Round-robin order gives one deterministic value, many standard errors away: the orders differ.
        let fixed = index == c ? run(.roundRobin, seed: 1).center : run(.roundRobin, seed: 1).worker
        #expect(abs(fixed * fixed - exact) > 8 * se, "\(method) \(name): round-robin's \(fixed * fixed) is as close as the random order's")
    }
    // Every worker is drawn: in one long run each takes about a third of the activations.
    let settings = EngineSettings(method: method, workers: p, learningRate: 0.01, alpha: alpha, tau: tau, momentum: momentum, weightDecay: 0)
    let engine = ParallelEngine<Double>(settings: settings, objectives: quadratics(p, curvatures: [h], minimizer: [0]), initial: [x0])
    SimulatedBackend(engine: engine, schedule: .random, orderSeed: 7).run(events: 30000)
    for w in engine.workers {
        let share = Double(w.clock) / Double(30000 * tau), se = (1.0 / 3 * 2.0 / 3 / 30000).squareRoot()
        #expect(abs(share - 1.0 / 3) < 4 * se, "worker \(w.index) took \(share) of the activations")
    }
}

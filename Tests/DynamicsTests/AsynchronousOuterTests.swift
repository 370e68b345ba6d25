// Asynchronous DiLoCo's round-robin scheme against independent references: its activation written from the
// equations (RoundRobinOuter.swift's header) against the one probed from the Elastic code; its cyclic polynomial
// against dgeev on the whole round map; with outer SGD at η_o = p it is DOWNPOUR (another scheme, written
// separately); with one worker it is the synchronous round (Lookahead), whose closed-form conditions are known.
@testable import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing

private func randomOuter(_ rng: inout SplitMix64) -> OuterSettings {
    let optimizer = OuterOptimizer.allCases[Int(rng.next() % 3)]
    return OuterSettings(optimizer: optimizer, learningRate: 0.05 + 2 * rng.nextUniform(), momentum: 0.95 * rng.nextUniform())
}

@Test func asynchronousDilocosActivationIsItsClosedForm() {
    var rng = SplitMix64(seed: 11)
    for _ in 0..<60 {
        let scheme = RoundRobinOuterScheme(workers: 1 + Int(rng.next() % 6), innerRate: 2.2 * rng.nextUniform(),
                                           innerSteps: 1 + Int(rng.next() % 7), objective: Quadratic(h: 0.5 + rng.nextUniform()),
                                           outer: randomOuter(&rng))
        for i in 0..<scheme.workers {
            #expect(scheme.activationMatrix(worker: i).maxAbsoluteDifference(scheme.probedActivationMatrix(worker: i)) <= 1e-12,
                    "\(scheme.outer) p = \(scheme.workers)")
        }
    }
}

@Test func asynchronousDilocosCyclicRadiusIsDgeevsOnTheRoundMap() throws {
    var rng = SplitMix64(seed: 12)
    let solver = EigenSolver(maxDimension: 40)
    var worst = 0.0
    for _ in 0..<400 {
        let scheme = RoundRobinOuterScheme(workers: 1 + Int(rng.next() % 12), innerRate: 2.2 * rng.nextUniform(),
                                           innerSteps: 1 + Int(rng.next() % 8), outer: randomOuter(&rng))
        let reference = try solver.spectralRadius(of: scheme.probedRoundMap())
        let fast = try scheme.spectralRadiusFromCyclicStructure(solver: solver)
        guard reference > 1e-6 else { continue }
        worst = max(worst, abs(fast - reference) / reference)
    }
    #expect(worst <= 1e-8, "worst relative difference \(worst)")
}

@Test(arguments: [1, 2, 4, 7])
func asynchronousDilocoWithOuterSGDAtRatePIsDownpour(workers p: Int) throws {
    let solver = EigenSolver(maxDimension: 20)
    for (eta, tau) in [(0.05, 1), (0.3, 4), (0.9, 3), (1.5, 2)] {
        let outer = RoundRobinOuterScheme(workers: p, innerRate: eta, innerSteps: tau, outer: OuterSettings(optimizer: .sgd, learningRate: Double(p)))
        let downpour = RoundRobinDownpour(workers: p, eta: eta, tau: tau)
        #expect(outer.roundMap().maxAbsoluteDifference(downpour.roundMap()) <= 1e-12)
        #expect(isClose(try outer.spectralRadiusFromCyclicStructure(solver: solver),
                        try downpour.spectralRadiusFromCyclicStructure(solver: solver), relative: 1e-9))
    }
}

@Test(arguments: OuterOptimizer.allCases)
func oneAsynchronousWorkerIsTheSynchronousRound(outer optimizer: OuterOptimizer) throws {
    // p = 1: x_1 = x̃ after every arrival, so the round is Lookahead's, the synchronous scheme's (x̃, v) map.
    let solver = EigenSolver(maxDimension: 4)
    for (eta, tau, rate, beta) in [(0.4, 3, 0.7, 0.9), (1.98, 3, 0.7, 0.9), (1.2, 5, 1.5, 0.3), (0.1, 10, 2.5, 0.6)] {
        let o = OuterSettings(optimizer: optimizer, learningRate: rate, momentum: beta)
        let asynchronous = try RoundRobinOuterScheme(workers: 1, innerRate: eta, innerSteps: tau, outer: o).spectralRadiusFromCyclicStructure(solver: solver)
        let synchronous = try o.round(workers: 1, innerRate: eta, innerSteps: tau, curvatures: [1]).radius().radius
        #expect(isClose(asynchronous, synchronous, relative: 1e-9), "\(optimizer) γ = \(eta) H = \(tau): \(asynchronous) against \(synchronous)")
    }
}

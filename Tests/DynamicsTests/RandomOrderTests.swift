// Random-order asynchrony: the relabelling-invariant reduction of the second-moment operator has the same
// spectral radius as the whole n² × n² operator; its prediction of E[s sᵀ] matches Monte-Carlo runs of the
// Elastic update code; with one worker it is the round-robin map squared.
@testable import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing

@Test func reducedOperatorHasTheFullOperatorsRadius() throws {
    var rng = SplitMix64(seed: 5)
    let solver = EigenSolver(maxDimension: 64)
    for v in [(Algorithm.easgd, 0.0, 1), (.admm, 0.0, 1), (.eamsgd, 0.9, 1), (.downpour, 0.0, 2), (.easgd, 0.0, 3)] {
        for p in [1, 2, 3] {
            for _ in 0..<8 {
                let eta = (v.0 == .admm ? 0.01 : 1.5) * rng.nextUniform()
                let second = (v.0 == .admm ? 10 : 1.0) * rng.nextUniform()
                let coupling: Coupling = v.0 == .admm ? .rho(second) : .alpha(second)
                let scheme = makeScheme(v.0, workers: p, eta: eta, coupling: coupling, h: 1, momentum: v.1, tau: v.2)
                let random = RandomOrderScheme(scheme)
                let full = try solver.spectralRadius(of: random.fullOperator())
                let reduced = try random.secondMomentRadius(solver: solver)
                #expect(random.reducedDimension == (p == 1 ? 1 + scheme.blockSize + scheme.blockSize * (scheme.blockSize + 1) / 2
                                                    : 1 + scheme.blockSize + scheme.blockSize * (scheme.blockSize + 1)))
                // Near 0 the spectrum is defective and dgeev resolves it only to about √ε (see ExtendedSchemeTests).
                #expect(isClose(reduced, full, relative: 1e-9, absolute: full < 1e-4 ? 1e-6 : 1e-12), "\(v) p=\(p) η=\(eta) \(second): \(reduced) vs \(full)")
            }
        }
    }
}

@Test func oneWorkerRandomOrderIsTheRoundRobinMapSquared() throws {
    let solver = EigenSolver(maxDimension: 16)
    for method in [Algorithm.easgd, .admm, .eamsgd] {
        let scheme = makeScheme(method, workers: 1, eta: 0.3, coupling: method == .admm ? .rho(2) : .alpha(0.4), h: 1, momentum: 0.5)
        let perRound = try RandomOrderScheme(scheme).meanSquareRadiusPerRound(solver: solver)
        #expect(isClose(perRound, try solver.spectralRadius(of: scheme.probedRoundMap()), relative: 1e-9))
    }
}

@Test(arguments: [(Algorithm.easgd, 0.6, 0.3), (.eamsgd, 0.2, 0.3), (.admm, 0.004, 3.0)])
func secondMomentPredictionMatchesMonteCarlo(method: Algorithm, eta: Double, second: Double) throws {
    let coupling: Coupling = method == .admm ? .rho(second) : .alpha(second)
    let scheme = makeScheme(method, workers: 3, eta: eta, coupling: coupling, h: 1, momentum: 0.5)
    let random = RandomOrderScheme(scheme)
    let start = (0..<scheme.stateDimension).map { Double($0 % 3) - 0.7 }
    var c = Matrix(rows: start.count, columns: start.count)
    for i in start.indices { for j in start.indices { c[i, j] = start[i] * start[j] } }
    let steps = 12
    for _ in 0..<steps { c = random.secondMomentStep(c) }
    let predicted = (0..<start.count).reduce(0.0) { $0 + c[$1, $1] }
    let mc = random.monteCarloSecondMoment(from: start, steps: steps, runs: 40_000, seed: 99)
    let measured = (0..<start.count).reduce(0.0) { $0 + mc.mean[$1, $1] }
    #expect(abs(measured - predicted) <= 4 * mc.traceStandardError, "\(method): E‖s‖² \(measured) vs \(predicted) ± \(mc.traceStandardError)")
    #expect(mc.traceStandardError < 0.05 * predicted)      // the check has power
}

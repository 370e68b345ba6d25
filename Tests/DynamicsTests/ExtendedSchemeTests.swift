// The schemes beyond Figure 1 (EAMSGD, τ local steps, DOWNPOUR): closed form = probed from the Elastic code,
// the block cyclic polynomial = dgeev on the full probed round map, and EAMSGD with δ = 0 = EASGD.
@testable import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing

let variants: [(method: Algorithm, momentum: Double, tau: Int)] = [
    (.easgd, 0, 4), (.easgd, 0, 16), (.admm, 0, 3), (.eamsgd, 0, 1), (.eamsgd, 0.9, 1), (.eamsgd, 0.99, 2),
    (.eamsgd, 0.9, 4), (.downpour, 0, 1), (.downpour, 0, 5),
]

func scheme(_ v: (method: Algorithm, momentum: Double, tau: Int), p: Int, eta: Double, second: Double) -> any RoundRobinScheme {
    let coupling: Coupling = v.method == .admm ? .rho(second) : .alpha(second)
    return makeScheme(v.method, workers: p, eta: eta, coupling: coupling, h: 1, momentum: v.momentum, tau: v.tau)
}

@Test func extendedClosedFormsEqualProbedMaps() {
    for v in variants {
        for (p, eta, second) in [(1, 0.1, 0.3), (2, 0.05, 0.2), (3, 0.3, 0.5), (5, 0.01, 0.9), (8, 0.002, 2.0)] {
            let s = scheme(v, p: p, eta: eta, second: second)
            for i in 0..<p {
                #expect(s.activationMatrix(worker: i).maxAbsoluteDifference(s.probedActivationMatrix(worker: i)) <= 1e-12, "\(v) p=\(p)")
            }
            #expect(s.roundMap().maxAbsoluteDifference(s.probedRoundMap()) <= 1e-11, "\(v) p=\(p)")
        }
    }
}

@Test func blockCyclicRadiusMatchesDgeev() throws {
    var rng = SplitMix64(seed: 11)
    let solver = EigenSolver(maxDimension: 40)
    var worst = 0.0
    for v in variants {
        for _ in 0..<150 {
            let p = 1 + Int(rng.next() % 10)
            let eta = (v.method == .admm ? 0.01 : 1.2) * rng.nextUniform()
            let second = (v.method == .admm ? 10 : 1.0) * rng.nextUniform()
            let s = scheme(v, p: p, eta: eta, second: second)
            let reference = try solver.spectralRadius(of: s.probedRoundMap())
            let fast = try s.spectralRadiusFromCyclicStructure(solver: solver)
            let gap = abs(fast - reference) / max(reference, 1e-300)
            worst = max(worst, reference > 1e-6 ? gap : 0)
            // dgeev resolves an eigenvalue to about ε·‖F‖ absolutely (√ε when it is defective, as near 0), so
            // radii below 1e-4 are compared absolutely; they are far from the stability boundary anyway.
            #expect(isClose(fast, reference, relative: 1e-8, absolute: reference < 1e-4 ? 1e-7 : 0), "\(v) p=\(p) η=\(eta) second=\(second): \(fast) vs \(reference)")
        }
    }
    #expect(worst > 0)      // the comparison ran on nonzero radii
}

@Test func eamsgdWithoutMomentumIsEASGD() throws {
    for (p, eta, alpha, tau) in [(1, 0.3, 0.2, 1), (3, 0.7, 0.4, 1), (4, 0.2, 0.3, 3)] {
        let m = RoundRobinEAMSGD(workers: p, eta: eta, alpha: alpha, momentum: 0, tau: tau)
        let e = RoundRobinEASGD(workers: p, eta: eta, alpha: alpha, tau: tau)
        var rng = SplitMix64(seed: UInt64(p))
        var xs = (0..<p).map { _ in rng.nextGaussian() }
        let c = rng.nextGaussian()
        var stateE = xs + [c]
        var stateM: [Double] = xs.flatMap { x -> [Double] in [x, 0] } + [c]
        for _ in 0..<5 {
            stateE.withUnsafeMutableBufferPointer { e.round($0) }
            stateM.withUnsafeMutableBufferPointer { m.round($0) }
        }
        xs = (0..<p).map { stateM[2 * $0] }
        #expect(xs == Array(stateE[0..<p]) && stateM[2 * p] == stateE[p])
        let solver = EigenSolver(maxDimension: 20)
        #expect(isClose(try solver.spectralRadius(of: m.probedRoundMap()), try solver.spectralRadius(of: e.probedRoundMap()), relative: 1e-10))
    }
}

@Test func tauOneLeavesTheFigureOneSchemesUnchanged() {
    // τ = 1 must be exactly the section-4 schemes: x_i ← x_i − ηh x_i − α(x_i − x̃) in one tick.
    let e = RoundRobinEASGD(workers: 3, eta: 0.4, alpha: 0.25)
    let m = e.activationMatrix(worker: 1)
    #expect(m[1, 1] == 1 - 0.4 - 0.25 && m[1, 3] == 0.25 && m[3, 1] == 0.25 && m[3, 3] == 0.75)
}

@Test(arguments: [0.0, 0.5, 0.9, 0.99])
func eamsgdWithoutCouplingIsNesterovsStabilityCondition(momentum: Double) throws {
    // With α = 0 the center is idle and each worker runs Nesterov on h·x²/2, which is stable exactly when
    // ηh < 2(1 + δ)/(1 + 2δ) (the closed form for the 2×2 map v' = δ(1 − e)v − e x, x' = x + v', e = ηh).
    let limit = 2 * (1 + momentum) / (1 + 2 * momentum)
    let solver = EigenSolver(maxDimension: 16)
    for k in 1...60 {
        let eta = 2.2 * Double(k) / 60
        if abs(eta - limit) < 1e-3 { continue }
        // With α = 0 the idle center contributes the eigenvalue 1 whatever η is, so the workers' part of the
        // round map (every row and column but the center's) is what decides.
        let s = RoundRobinEAMSGD(workers: 3, eta: eta, alpha: 0, momentum: momentum)
        let full = s.probedRoundMap()
        let n = s.stateDimension - 1
        var workersOnly = Matrix(rows: n, columns: n)
        for i in 0..<n { for j in 0..<n { workersOnly[i, j] = full[i, j] } }
        let radius = try solver.spectralRadius(of: workersOnly)
        #expect((radius < 1) == (eta < limit), "δ=\(momentum) η=\(eta) ρ=\(radius)")
    }
}

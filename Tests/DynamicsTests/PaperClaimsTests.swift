// The paper's claims (a)–(c), quantitatively.
@testable import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing

/// (a) Figure 1: ADMM round maps with radius > 1 although every single worker's map is stable.
@Test(arguments: [3, 8])
func admmIsUnstableWhereEachWorkerIsStable(p: Int) throws {
    let solver = EigenSolver(maxDimension: 2 * p + 1)
    let scheme = RoundRobinADMM(workers: p, eta: 0.001, rho: 2.5)
    #expect(try solver.spectralRadius(of: scheme.probedRoundMap()) > 1)
    for i in 0..<p {
        #expect(try solver.spectralRadius(of: scheme.probedActivationMatrix(worker: i)) <= 1 + 1e-12)
    }
    // The unstable region of Figure 1 is a sizeable part of (0, 1e-2] × (0, 10], larger for p = 8.
    let spec = StabilityMapSpec(method: .admm, workers: p, eta: GridAxis(lower: 1e-5, upper: 0.01, count: 60),
                                second: GridAxis(lower: 0.01, upper: 10, count: 60), secondKind: .rho)
    let map = try StabilityMap.compute(spec)
    #expect(map.unstableFraction > (p == 3 ? 0.1 : 0.3))
    #expect(map.maxRadius > 1)
}

/// (b) The chaotic example η = 0.001, ρ = 2.5 diverges exponentially at the rate ln ρ(F), to 1 %.
@Test(arguments: [InitialState.constant(1000), .random(seed: 3)])
func chaoticADMMGrowsAtTheSpectralRate(start: InitialState) throws {
    let scheme = RoundRobinADMM(workers: 3, eta: 0.001, rho: 2.5)
    let radius = try EigenSolver(maxDimension: 7).spectralRadius(of: scheme.probedRoundMap())
    let trajectory = scheme.simulate(from: scheme.initialState(start), rounds: 100_000)
    #expect(trajectory.divergedAtRound == nil)
    let rate = try #require(trajectory.growthRate)
    #expect(abs(rate - log(radius)) <= 0.01 * log(radius), "measured \(rate) vs ln ρ(F) = \(log(radius))")
    #expect(trajectory.maxAbs.last! > 1e30)   // exponential growth, visibly
}

@Test func overflowIsDetectedAndReportedByRound() throws {
    let scheme = RoundRobinEASGD(workers: 2, eta: 3, alpha: 0.5)       // ηh = 3 > 2: violently unstable
    let trajectory = scheme.simulate(from: scheme.initialState(.constant(1)), rounds: 100_000)
    let round = try #require(trajectory.divergedAtRound)
    #expect(round < 2000)
    #expect(trajectory.maxAbs.allSatisfy { $0.isFinite })
}

/// (c) The paper: EASGD's round map is stable iff 0 ≤ ηh ≤ 2 and 0 ≤ α ≤ (4 − 2ηh)/(4 − ηh), "for every p".
/// What holds (and numpy's eigvals on the closed-form map agrees, see notebooks-text/01): the condition is
/// exact for p = 1 and every odd p (its boundary is where worker 1's 2×2 block has eigenvalue −1, and
/// μ = −1 gives F the eigenvalue (−1)^p = −1 only for odd p), and sufficient for every p; for even p the
/// stable region reaches slightly beyond it.
func easgdMap(p: Int, h: Double) throws -> StabilityMap {
    let spec = StabilityMapSpec(method: .easgd, workers: p, h: h, eta: GridAxis(lower: 0.01, upper: 2.5 / h, count: 120),
                                second: GridAxis(lower: 0.005, upper: 1.3, count: 120), secondKind: .alpha)
    return try StabilityMap.compute(spec)
}

/// Grid points away from a thin band around the paper's boundary, with the paper's verdict.
func paperVerdicts(_ map: StabilityMap, h: Double) -> [(i: Int, j: Int, stable: Bool)] {
    var out: [(Int, Int, Bool)] = []
    for j in 0..<map.spec.second.count {
        for i in 0..<map.spec.eta.count {
            let eh = map.etaValues[i] * h, a = map.secondValues[j]
            if min(abs(2 - eh), abs(a - (4 - 2 * eh) / (4 - eh))) < 1e-3 { continue }
            out.append((i, j, eh <= 2 && a <= (4 - 2 * eh) / (4 - eh)))
        }
    }
    return out
}

@Test(arguments: [1, 3, 5, 9, 15])
func easgdConditionIsExactForOddP(p: Int) throws {
    let h = 1.3
    let map = try easgdMap(p: p, h: h)
    let verdicts = paperVerdicts(map, h: h)
    #expect(verdicts.count > 12000)
    for v in verdicts {
        let r = map.radius(etaIndex: v.i, secondIndex: v.j)
        #expect(v.stable == (r < 1), "p=\(p) η=\(map.etaValues[v.i]) α=\(map.secondValues[v.j]) radius \(r)")
    }
    // The traced boundary against the closed form η = 4(1 − α)/(h(2 − α)).
    let boundary = try map.traceBoundary()
    // Exactly one crossing on every row with α < 1; rows with α ≥ 1 are unstable for every η > 0.
    #expect(boundary.count == map.secondValues.filter { $0 < 1 }.count)
    for point in boundary where point.second < 1 {
        let exact = 4 * (1 - point.second) / (h * (2 - point.second))
        #expect(abs(point.eta - exact) <= 1e-9 * exact, "α=\(point.second): traced \(point.eta), exact \(exact)")
    }
}

@Test(arguments: [2, 4, 6, 8, 16])
func easgdConditionIsSufficientForEvenP(p: Int) throws {
    let h = 1.3
    let map = try easgdMap(p: p, h: h)
    var beyond = 0
    for v in paperVerdicts(map, h: h) {
        let r = map.radius(etaIndex: v.i, secondIndex: v.j)
        if v.stable { #expect(r < 1, "p=\(p): paper-stable point with radius \(r)") }
        if !v.stable && r < 1 { beyond += 1 }
    }
    if p == 2 {
        // Stable points outside the paper's region exist, and dgeev on the full probed map confirms one of them.
        #expect(beyond > 50)
        let scheme = RoundRobinEASGD(workers: 2, eta: 1.62 / h, alpha: 0.32, objective: Quadratic(h: h))
        let paperLimit: Double = (4 - 2 * 1.62) / (4 - 1.62)
        #expect(0.32 > paperLimit)
        #expect(try EigenSolver(maxDimension: 3).spectralRadius(of: scheme.probedRoundMap()) < 1)
    }
}

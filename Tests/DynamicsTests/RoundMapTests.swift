// The round maps built two ways (closed form from the equations; probed from the Elastic code) must agree,
// and the fast cyclic-structure radius must agree with dgeev on the full map.
@testable import Dynamics
import Elastic
import NumericTesting
import Foundation
import Testing

let settings: [(p: Int, eta: Double, rho: Double, h: Double)] = [
    (1, 0.001, 2.5, 1), (2, 0.005, 0.3, 1), (3, 0.001, 2.5, 1), (3, 0.2, 4, 0.7), (5, 0.008, 9.5, 2.5), (8, 0.003, 1.1, 1),
]

@Test(arguments: [Algorithm.easgd, .admm])
func closedFormEqualsProbedMap(method: Algorithm) {
    for s in settings {
        let scheme = makeScheme(method, workers: s.p, eta: s.eta, coupling: .rho(s.rho), h: s.h)
        for i in 0..<s.p {
            #expect(scheme.activationMatrix(worker: i).maxAbsoluteDifference(scheme.probedActivationMatrix(worker: i)) <= 1e-12)
        }
        #expect(scheme.roundMap().maxAbsoluteDifference(scheme.probedRoundMap()) <= 1e-12, "\(method) \(s)")
    }
}

@Test(arguments: [Algorithm.easgd, .admm])
func cyclicStructureGivesEveryEigenvalue(method: Algorithm) throws {
    // Nonzero eigenvalues of F are exactly μ^p over the roots μ of the cyclic polynomial (F = (ΠG₁)^p).
    let solver = EigenSolver(maxDimension: 40)
    for s in settings {
        let scheme = makeScheme(method, workers: s.p, eta: s.eta, coupling: .rho(s.rho), h: s.h)
        let full = try solver.eigenvalues(of: scheme.probedRoundMap())
        let powered = try solver.roots(ofMonic: scheme.cyclicPolynomial()).map { root -> Eigenvalue in
            var re = 1.0, im = 0.0
            for _ in 0..<s.p { (re, im) = (re * root.re - im * root.im, re * root.im + im * root.re) }
            return Eigenvalue(re: re, im: im)
        }
        // Match every μ^p to a distinct eigenvalue of F; the unmatched rest of F's spectrum must be 0.
        var unused = full
        for z in powered {
            let k = unused.indices.min { a, b in
                hypot(unused[a].re - z.re, unused[a].im - z.im) < hypot(unused[b].re - z.re, unused[b].im - z.im)
            }!
            // A defective zero eigenvalue (ADMM, p = 1) is only determined to about √ε by dgeev.
            let tolerance = z.magnitude < 1e-6 ? 1e-7 : 1e-9
            #expect(hypot(unused[k].re - z.re, unused[k].im - z.im) <= tolerance, "\(method) \(s)")
            unused.remove(at: k)
        }
        for rest in unused { #expect(rest.magnitude <= 1e-7) }
    }
}

@Test(arguments: [Algorithm.easgd, .admm])
func fastRadiusMatchesDgeevOnRandomPoints(method: Algorithm) throws {
    var rng = SplitMix64(seed: 7)
    let solver = EigenSolver(maxDimension: 40)
    var worst = 0.0
    for _ in 0..<400 {
        let p = 1 + Int(rng.next() % 12)
        let eta = method == .admm ? 0.01 * rng.nextUniform() : 2.2 * rng.nextUniform()
        let second = method == .admm ? 10 * rng.nextUniform() : 1.2 * rng.nextUniform()
        let scheme = makeScheme(method, workers: p, eta: eta, coupling: method == .admm ? .rho(second) : .alpha(second), h: 1)
        let reference = try solver.spectralRadius(of: scheme.probedRoundMap())
        let fast = try scheme.spectralRadiusFromCyclicStructure(solver: solver)
        worst = max(worst, abs(fast - reference) / reference)
    }
    #expect(worst <= 1e-9, "worst relative difference \(worst)")
}

@Test func eigenSolverOnKnownSpectra() throws {
    let solver = EigenSolver(maxDimension: 6)
    // Block diagonal: a rotation-scaling block with eigenvalues 0.6 ± 0.8i (|λ| = 1), and 2, −3.
    var m = Matrix(rows: 4, columns: 4)
    m[0, 0] = 0.6; m[0, 1] = -0.8; m[1, 0] = 0.8; m[1, 1] = 0.6; m[2, 2] = 2; m[3, 3] = -3
    let values = try solver.eigenvalues(of: m).map(\.magnitude).sorted()
    #expect(zip(values, [1.0, 1, 2, 3]).allSatisfy { isClose($0, $1, relative: 1e-14) })
    // (μ − 1)(μ − 2)(μ² + 1) = μ⁴ − 3μ³ + 3μ² − 3μ + 2
    let roots = try solver.roots(ofMonic: [2, -3, 3, -3, 1])
    let sorted = roots.sorted { ($0.re, $0.im) < ($1.re, $1.im) }
    let expected = [Eigenvalue(re: 0, im: -1), Eigenvalue(re: 0, im: 1), Eigenvalue(re: 1, im: 0), Eigenvalue(re: 2, im: 0)]
    for (a, b) in zip(sorted, expected) { #expect(abs(a.re - b.re) + abs(a.im - b.im) <= 1e-13) }
    var bad = Matrix(rows: 2, columns: 2)
    bad[0, 0] = .nan
    #expect(throws: EigenSolverError.self) { try solver.eigenvalues(of: bad) }
}

@Test func rootTrackingAgreesWithColdLAPACKAlongARow() throws {
    let solver = EigenSolver(maxDimension: 17)
    let tracker = RootTracker(solver: solver)
    let cold = EigenSolver(maxDimension: 17)
    var worst = 0.0
    for k in 0..<500 {
        let scheme = RoundRobinADMM(workers: 8, eta: 1e-5 + Double(k) * 2e-5, rho: 0.7)
        let tracked = try tracker.spectralRadius(scheme)
        let reference = try scheme.spectralRadiusFromCyclicStructure(solver: cold)
        worst = max(worst, abs(tracked - reference) / reference)
    }
    #expect(tracker.trackedSolves > 400, "tracking should carry most of the row")
    #expect(worst <= 1e-12, "worst \(worst)")
}

// Synchronous EASGD on a noisy quadratic: closed form = exact second-moment recursion (1e-10) =
// Monte-Carlo with the Elastic update code (within its confidence interval); the stability condition
// against the eigenvalues; the large-p limit against the closed form at large p.
@testable import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing

let varianceSettings: [(p: Int, eta: Double, beta: Double, h: Double, sigma: Double, x0: Double, c0: Double)] = [
    (1, 0.1, 0.9, 1, 10, 1, 1), (4, 0.1, 0.9, 1, 10, 1, 1), (10, 0.5, 0.9, 2, 3, -2, 0.5),
    (100, 0.05, 1.5, 1, 10, 1, 1),
    (3, 1.2, 0.3, 1, 1, 4, -1), (1000, 0.01, 0.2, 1, 10, 1, 1), (7, 1.9, 0.05, 1, 2, 1, 1),
]

@Test func closedFormEqualsTheMomentRecursion() throws {
    for s in varianceSettings {
        let model = SynchronousEASGD(workers: s.p, eta: s.eta, beta: s.beta, h: s.h, sigma: s.sigma)
        for t in [0, 1, 2, 3, 10, 100, 1000] {
            let (closed, how) = try #require(model.centerMoments(at: t, x0: s.x0, center0: s.c0))
            let exact = model.centerMomentsByRecursion(at: t, x0: s.x0, center0: s.c0)
            #expect(how == .eigenvalues)
            let scale = max(abs(s.x0), abs(s.c0))
            #expect(isClose(closed.mean, exact.mean, relative: 1e-10, absolute: 1e-13 * scale), "\(s) t=\(t) mean")
            let q = Double(s.p) * s.eta * s.eta * s.sigma * s.sigma      // the noise entering per step
            #expect(isClose(closed.variance, exact.variance, relative: 1e-10, absolute: 1e-13 * q), "\(s) t=\(t) var")
        }
        // t → ∞ against the recursion run until it has converged, and against the Lyapunov equation.
        guard model.spectralRadius < 0.999 else { continue }
        let (limit, _) = try #require(model.centerMoments(at: nil, x0: s.x0, center0: s.c0))
        let far = model.centerMomentsByRecursion(at: 100_000, x0: s.x0, center0: s.c0)
        #expect(isClose(limit.variance, far.variance, relative: 1e-10), "\(s) t=inf")
        #expect(limit.mean == 0 && abs(far.mean) < 1e-12)
        let lyapunov = try #require(model.recursion.stationaryCovariance())
        #expect(isClose(limit.variance, lyapunov.2, relative: 1e-10))
    }
}

@Test func eigenvaluesAreRealAndDistinctAndNearlyEqualOnesUseTheRecursion() throws {
    // T² − 4D = (β − ηh)² + 2β(ηh + β)/p + β²/p² > 0 for ηh, β > 0: real, distinct eigenvalues.
    for (p, e, beta) in [(1, 0.3, 0.25), (5, 0.3, 0.25), (50, 1.7, 0.01), (3, 0.01, 1.9)] {
        let m = SynchronousEASGD(workers: p, eta: e, beta: beta, sigma: 1).recursion.m
        let t = m.0 + m.3, d = m.0 * m.3 - m.1 * m.2
        let pp = Double(p)
        let formula = (beta - e) * (beta - e) + 2 * beta * (e + beta) / pp + beta * beta / (pp * pp)
        #expect(isClose(t * t - 4 * d, formula, relative: 1e-12))
    }
    // Tiny ηh and β put both eigenvalues within 1e-8 of 1 and of each other: the eigenvector formula would
    // cancel, so the exact recursion is used (t → ∞: the Lyapunov equation).
    let model = SynchronousEASGD(workers: 4, eta: 1e-8, beta: 1e-8, sigma: 2)
    let (m, how) = try #require(model.centerMoments(at: 50, x0: 1, center0: 0.5))
    #expect(how == .recursion)
    let exact = model.centerMomentsByRecursion(at: 50, x0: 1, center0: 0.5)
    #expect(m == exact)
    let (limit, limitHow) = try #require(model.centerMoments(at: nil, x0: 1, center0: 0.5))
    #expect(limitHow == .recursion && limit.variance > 0 && limit.variance.isFinite)
    // A little further from the degenerate corner the eigenvalue formula is used and still agrees.
    let apart = SynchronousEASGD(workers: 4, eta: 1e-4, beta: 1e-3, sigma: 2)
    let (a, aHow) = try #require(apart.centerMoments(at: 500, x0: 1, center0: 0.5))
    #expect(aHow == .eigenvalues)
    #expect(isClose(a.variance, apart.centerMomentsByRecursion(at: 500, x0: 1, center0: 0.5).variance, relative: 1e-8))
}

@Test(arguments: [(4, 10), (4, 60), (1, 25), (20, 5)])
func monteCarloWithTheElasticCodeAgrees(workers: Int, steps: Int) throws {
    let model = SynchronousEASGD(workers: workers, eta: 0.1, beta: 0.9, h: 1, sigma: 10)
    let replicas = 20_000
    let mc = model.monteCarlo(at: steps, replicas: replicas, x0: 1, center0: 1, seed: UInt64(workers * 1000 + steps))
    let (exact, _) = try #require(model.centerMoments(at: steps, x0: 1, center0: 1))
    // Four standard errors: the mean's is √(Var/R); the (Gaussian) sample variance's is Var·√(2/(R − 1)).
    let meanError = 4 * (exact.variance / Double(replicas)).squareRoot()
    let varianceError = 4 * exact.variance * (2 / Double(replicas - 1)).squareRoot()
    #expect(abs(mc.mean - exact.mean) <= meanError, "mean \(mc.mean) vs \(exact.mean) ± \(meanError)")
    #expect(abs(mc.variance - exact.variance) <= varianceError, "variance \(mc.variance) vs \(exact.variance) ± \(varianceError)")
}

@Test func stabilityConditionMatchesTheEigenvalues() {
    var checked = 0
    for p in [1, 2, 3, 10, 1000] {
        for i in 1...120 {
            for j in 1...120 {
                let etaH = 3.0 * Double(i) / 120, beta = 2.5 * Double(j) / 120
                let radius = SynchronousEASGD(workers: p, eta: etaH, beta: beta, h: 1, sigma: 1).spectralRadius
                if abs(radius - 1) < 1e-9 { continue }
                #expect(SynchronousEASGD.isStable(etaH: etaH, beta: beta, workers: p) == (radius < 1), "p=\(p) ηh=\(etaH) β=\(beta) ρ=\(radius)")
                checked += 1
            }
        }
    }
    #expect(checked > 70_000)
}

@Test(arguments: [(0.1, 0.9), (0.5, 0.5), (1.5, 1.2), (0.02, 1.9)])
func largeWorkerLimitMatchesTheClosedForm(eta: Double, beta: Double) throws {
    let limit = try #require(SynchronousEASGD.largeWorkerLimit(eta: eta, beta: beta, h: 1, sigma: 10))
    var previousGap = Double.infinity
    for p in [100, 10_000, 1_000_000] {
        let model = SynchronousEASGD(workers: p, eta: eta, beta: beta, h: 1, sigma: 10)
        let (m, _) = try #require(model.centerMoments(at: nil, x0: 1, center0: 1))
        let gap = abs(Double(p) * m.variance - limit) / limit
        #expect(gap < previousGap)            // converges …
        previousGap = gap
    }
    #expect(previousGap < 1e-4)               // … at rate 1/p
}

@Test func sequentialReferencesAgreeWithTheirRecursions() throws {
    // SGD: closed form against LinearGaussian2 with an inert second coordinate; MVASGD: t → ∞ against a long run.
    let sgd = try #require(SequentialNoisyQuadratic.sgd(eta: 0.3, h: 1, sigma: 2, x0: 1.5, at: 40))
    let lg = LinearGaussian2(m: (0.7, 0, 0, 0), q: (0.36, 0, 0)).moments(from: (1.5, 0), steps: 40)
    #expect(isClose(sgd.mean, lg.mean.0, relative: 1e-12) && isClose(sgd.variance, lg.cov.0, relative: 1e-12))
    let stationary = try #require(SequentialNoisyQuadratic.mvasgd(eta: 0.3, h: 1, sigma: 2, rate: 0.05, x0: 1, at: nil))
    let far = try #require(SequentialNoisyQuadratic.mvasgd(eta: 0.3, h: 1, sigma: 2, rate: 0.05, x0: 1, at: 50_000))
    #expect(isClose(stationary.variance, far.variance, relative: 1e-10))
    #expect(SequentialNoisyQuadratic.sgd(eta: 2.5, h: 1, sigma: 1, x0: 1, at: nil) == nil)
}

// DiLoCo's synchronous scheme on the quadratic: the round map probed from the Elastic code equals the one written
// from the equations, and its stability is Jury's condition on the characteristic polynomial, worked by hand:
// with m = 1 − mean_i (1 − γh_i)^H and s = η_o·m, stable iff 0 < s < 2 (outer SGD), 0 < s < 2(1 + β) (heavy ball),
// 0 < s < 2(1 + β)/(1 + 2β) (Nesterov).
import Dynamics
import Foundation
import Elastic
import NumericTesting
import Testing

private func scheme(_ outer: OuterOptimizer, p: Int = 4, gamma: Double, steps: Int, h: [Double] = [1], lr: Double = 0.7,
                    beta: Double = 0.9) -> SynchronousOuterScheme {
    SynchronousOuterScheme(workers: p, innerRate: gamma, innerSteps: steps, curvatures: h, outer: outer, outerRate: lr, outerMomentum: beta)
}

@Test(arguments: OuterOptimizer.allCases)
func probedRoundMapEqualsTheClosedForm(outer: OuterOptimizer) {
    var checked = 0
    for gamma in [0.05, 0.7, 1.9] {
        for steps in [1, 2, 5, 10] {
            for (lr, beta) in [(0.7, 0.9), (1.0, 0.0), (0.3, 0.5)] {
                for h in [[1.0], [0.5, 1, 1.5, 3]] {
                    let s = scheme(outer, gamma: gamma, steps: steps, h: h, lr: lr, beta: beta)
                    let f = s.roundMap(), scale = max(1, (0..<f.rows).flatMap { i in (0..<f.columns).map { abs(f[i, $0]) } }.max()!)
                    #expect(s.probedRoundMap().maxAbsoluteDifference(f) <= 1e-13 * scale, "\(outer) γ=\(gamma) H=\(steps) \(lr) \(beta) \(h)")
                    checked += 1
                }
            }
        }
    }
    #expect(checked == 72)
}

@Test(arguments: OuterOptimizer.allCases)
func stabilityIsJurysConditionOnTheOuterGain(outer: OuterOptimizer) throws {
    var rng = SplitMix64(seed: 34)
    var stable = 0, unstable = 0
    for _ in 0..<400 {
        let gammaH = 2.2 * rng.nextUniform(), steps = 1 + rng.nextInt(below: 12)
        let lr = 0.05 + 3 * rng.nextUniform(), beta = outer == .sgd ? 0 : 0.99 * rng.nextUniform()
        let m = 1 - pow(1 - gammaH, Double(steps)), s = lr * m
        let bound = switch outer {
        case .sgd: 2.0
        case .heavyBall: 2 * (1 + beta)
        case .nesterov: 2 * (1 + beta) / (1 + 2 * beta)
        }
        // Points within 1e-6 of the conditions' edges are left out: there the radius is 1 to rounding.
        guard abs(s) > 1e-6, abs(s - bound) > 1e-6 * bound else { continue }
        let predicted = s > 0 && s < bound
        let radius = try scheme(outer, gamma: gammaH, steps: steps, lr: lr, beta: beta).radius().radius
        #expect((radius < 1) == predicted, "\(outer) γh=\(gammaH) H=\(steps) η_o=\(lr) β=\(beta): s = \(s), bound \(bound), ρ = \(radius)")
        if predicted { stable += 1 } else { unstable += 1 }
    }
    #expect(stable > 60 && unstable > 60, "\(stable) stable, \(unstable) unstable: both sides must be sampled")
}

@Test func dilocosDefaultOuterStepFailsForOddInnerStepsNearTheInnerEdge() throws {
    // η_o = 0.7, β = 0.9: unstable once m > 2(1.9)/(2.8)/0.7 ≈ 1.9388, which needs (1 − γh)^H < −0.9388: odd H, γh near 2,
    // while the inner loop alone (|1 − γh| < 1) is stable.
    let dilocoDefault = { (gammaH: Double, steps: Int) in try scheme(.nesterov, gamma: gammaH, steps: steps).radius().radius }
    #expect(try dilocoDefault(1.95, 1) > 1)
    #expect(try dilocoDefault(1.95, 2) < 1)
    #expect(try dilocoDefault(1.985, 3) > 1)
    #expect(try dilocoDefault(1.9, 3) < 1)
}

@Test func outerSGDWithRateOneIsLocalSGDsAverage() {
    // One round of Local SGD (η_o = 1) moves the center to the workers' mean: x̃ · mean_i (1 − γh_i)^H.
    let s = scheme(.sgd, p: 3, gamma: 0.3, steps: 4, h: [0.5, 1, 2], lr: 1)
    var state = [2.0]
    s.round(&state)
    let mean = [0.5, 1.0, 2.0].map { (x: Double) -> Double in pow(1 - 0.3 * x, 4) }.reduce(0, +) / 3
    #expect(isClose(state[0], 2 * mean, relative: 1e-14))
}

/// The closed form's stability threshold c on s = η_o·m: stable iff 0 < s < c.
private func threshold(_ outer: OuterOptimizer, beta: Double) -> Double {
    switch outer {
    case .sgd: 2
    case .heavyBall: 2 * (1 + beta)
    case .nesterov: 2 * (1 + beta) / (1 + 2 * beta)
    }
}

/// A DiLoCo map over (γ, η_o) and over (γ, β): every traced boundary point lies on s = c (1e-8 relative), and every
/// grid point's verdict is the closed form's (points within 1e-9 of the boundary left out). H = 5 is odd, so near
/// γh = 2 the gain m = 1 − (1 − γh)^5 exceeds 1 and the boundary dips: DiLoCo's default η_o = 0.7 fails there.
@Test(arguments: OuterOptimizer.allCases)
func aDiLoCoMapsVerdictsAndTracedBoundaryAreTheClosedForms(outer: OuterOptimizer) throws {
    let steps = 5, beta = 0.9
    func gain(_ gamma: Double) -> Double { 1 - pow(1 - gamma, Double(steps)) }
    for axis in [CouplingAxis.outerRate, .outerMomentum] where !(axis == .outerMomentum && outer == .sgd) {
        let second = axis == .outerRate ? GridAxis(0.05...4.5, count: 40) : GridAxis(0...0.99, count: 40)
        let spec = StabilityMapSpec(method: .diloco, workers: 8, eta: GridAxis(0.01...1.99, count: 60), second: second,
                                    secondKind: axis, tau: steps, outer: OuterSettings(optimizer: outer, learningRate: 1.3, momentum: beta))
        let map = try StabilityMap.compute(spec)
        var compared = 0
        for (j, y) in map.secondValues.enumerated() {
            for (i, gamma) in map.etaValues.enumerated() {
                let rate = axis == .outerRate ? y : 1.3, b = axis == .outerMomentum ? y : beta
                let s = rate * gain(gamma), c = threshold(outer, beta: b)
                guard abs(s - c) > 1e-9 * c, s > 1e-9 else { continue }
                #expect((map.radius(etaIndex: i, secondIndex: j) <= 1) == (s < c), "γ = \(gamma), \(axis) = \(y)")
                compared += 1
            }
        }
        #expect(compared > 2000)
        let boundary = try map.traceBoundary()
        #expect(boundary.count >= 5, "\(axis): \(boundary.count) boundary points")
        for point in boundary {
            let rate = axis == .outerRate ? point.second : 1.3, b = axis == .outerMomentum ? point.second : beta
            #expect(isClose(rate * gain(point.eta), threshold(outer, beta: b), relative: 1e-8), "\(point)")
        }
    }
}

/// The outer step one round late (Streaming DiLoCo's overlap): the map probed from the Elastic code equals the one
/// written from the equations (3 × 3 for heavy ball and Nesterov, 2 × 2 for SGD), and for outer SGD the round is
/// z² − z + s, stable iff 0 < s < 1 (Jury), half the undelayed range.
@Test(arguments: OuterOptimizer.allCases)
func aDelayedOuterStepsProbedMapIsItsClosedForm(outer: OuterOptimizer) throws {
    var checked = 0
    for gamma in [0.05, 0.7, 1.9] {
        for steps in [1, 3, 10] {
            for (lr, beta) in [(0.7, 0.9), (1.0, 0.0), (0.3, 0.5)] {
                var s = scheme(outer, gamma: gamma, steps: steps, h: [0.5, 1, 1.5, 3], lr: lr, beta: beta)
                s.delayed = true
                let f = s.roundMap()
                #expect(f.rows == (outer == .sgd ? 2 : 3))
                let scale = max(1, (0..<f.rows).flatMap { i in (0..<f.columns).map { abs(f[i, $0]) } }.max()!)
                #expect(s.probedRoundMap().maxAbsoluteDifference(f) <= 1e-13 * scale, "\(outer) γ=\(gamma) H=\(steps) \(lr) \(beta)")
                checked += 1
            }
        }
    }
    #expect(checked == 27)
    guard outer == .sgd else { return }
    var rng = SplitMix64(seed: 35), stable = 0, unstable = 0
    for _ in 0..<400 {
        let gammaH = 2.2 * rng.nextUniform(), steps = 1 + rng.nextInt(below: 12), lr = 0.05 + 3 * rng.nextUniform()
        var s = scheme(.sgd, gamma: gammaH, steps: steps, lr: lr, beta: 0)
        s.delayed = true
        let product = lr * (1 - pow(1 - gammaH, Double(steps)))
        guard abs(product) > 1e-6, abs(product - 1) > 1e-6 else { continue }
        let predicted = product > 0 && product < 1
        #expect((try s.radius().radius < 1) == predicted, "γh=\(gammaH) H=\(steps) η_o=\(lr): s = \(product)")
        if predicted { stable += 1 } else { unstable += 1 }
    }
    #expect(stable > 60 && unstable > 60, "\(stable) stable, \(unstable) unstable")
}

@Test func outerSGDsNoisyCenterIsTheScalarClosedForm() throws {
    // Outer SGD: x̃' = (1 − η_o m) x̃ − η_o ν, so the stationary MSE is η_o² q / (1 − (1 − η_o m)²) with
    // q = γ²σ²(1 − a^{2H})/(p(1 − a²)), a = 1 − γh; at η_o = 1 it is SGD's γ²σ²/(1 − a²) over p, whatever H is.
    var rng = SplitMix64(seed: 21)
    for _ in 0..<200 {
        let p = 1 + Int(rng.next() % 8), steps = 1 + Int(rng.next() % 12), gamma = 1.9 * rng.nextUniform(), rate = 0.1 + 1.8 * rng.nextUniform()
        let sigma = 0.1 + 2 * rng.nextUniform()
        let scheme = SynchronousOuterScheme(workers: p, innerRate: gamma, innerSteps: steps, curvatures: [1], outer: .sgd,
                                            outerRate: rate, outerMomentum: 0)
        let a = 1 - gamma, m = 1 - pow(a, Double(steps))
        let q = gamma * gamma * sigma * sigma * (1 - pow(a, 2 * Double(steps))) / (Double(p) * (1 - a * a))
        #expect(isClose(scheme.pseudoGradientNoiseVariance(sigma: sigma), q, relative: 1e-10))
        let closed = rate * rate * q / (1 - (1 - rate * m) * (1 - rate * m))
        let found = try scheme.stationaryCenterMSE(sigma: sigma)
        if abs(1 - rate * m) < 1 {
            #expect(isClose(try #require(found), closed, relative: 1e-9), "p \(p) H \(steps) γ \(gamma) η_o \(rate)")
        } else {
            #expect(found == nil)
        }
    }
    let localSGD = try #require(try SynchronousOuterScheme(workers: 4, innerRate: 0.3, innerSteps: 16, curvatures: [1], outer: .sgd,
                                                           outerRate: 1, outerMomentum: 0).stationaryCenterMSE(sigma: 1))
    #expect(isClose(localSGD, 0.09 / (1 - 0.49) / 4, relative: 1e-12))
}

@Test(arguments: OuterOptimizer.allCases)
func aDelayedNoisyRoundHasTheLyapunovMSE(outer: OuterOptimizer) throws {
    // The delayed round (state x̃, v, d) driven by Gaussian pseudo-gradient noise of variance q through the round's own
    // code, against the Lyapunov solution: checks the 3 × 3 solve and the noise's entry through d.
    let scheme = SynchronousOuterScheme(workers: 4, innerRate: 0.2, innerSteps: 3, curvatures: [1], outer: outer,
                                        outerRate: 0.5, outerMomentum: 0.5, delayed: true)
    let predicted = try #require(try scheme.stationaryCenterMSE(sigma: 1))
    let q = scheme.pseudoGradientNoiseVariance(sigma: 1)
    var rng = SplitMix64(seed: 5), state = [Double](repeating: 0, count: scheme.stateDimension)
    var batches: [Double] = [], sum = 0.0
    for round in 1...201_000 {
        scheme.round(&state, noise: q.squareRoot() * rng.nextGaussian())
        guard round > 1_000 else { continue }
        sum += state[0] * state[0]
        if round % 5_000 == 0 { batches.append(sum / 5_000); sum = 0 }
    }
    let mean = batches.reduce(0, +) / Double(batches.count)
    let se = (batches.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(batches.count - 1) / Double(batches.count)).squareRoot()
    #expect(abs(mean - predicted) < 4 * se && se < 0.03 * predicted, "\(outer): \(mean) ± \(se) against \(predicted)")
}

@Test(arguments: OuterOptimizer.allCases)
func innerNesterovRestartingAtRestEntersOnlyThroughTheGain(outer: OuterOptimizer) {
    // Inner Nesterov with its velocity reset at each restart: H steps of (x, u) ← M(x, u), M = [[a, δa], [−γh, δa]],
    // a = 1 − γh, from (x̃, 0), so the round is the SGD round's closed form with m = 1 − mean_i (M_i^H)[0, 0]. M^H by
    // matrix products here; the probed map runs Elastic's Nesterov.
    var rng = SplitMix64(seed: 31)
    for _ in 0..<100 {
        let p = 1 + Int(rng.next() % 5), steps = 1 + Int(rng.next() % 9), gamma = 1.9 * rng.nextUniform(), delta = 0.99 * rng.nextUniform()
        let curvatures = (0..<p).map { _ in 0.2 + 1.5 * rng.nextUniform() }
        let scheme = SynchronousOuterScheme(workers: p, innerRate: gamma, innerSteps: steps, curvatures: curvatures, outer: outer,
                                            outerRate: 0.2 + rng.nextUniform(), outerMomentum: 0.9 * rng.nextUniform(), innerMomentum: delta)
        var factors = 0.0
        for h in curvatures {
            let a = 1 - gamma * h, m = [[a, delta * a], [-gamma * h, delta * a]]
            var power = [[1.0, 0.0], [0.0, 1.0]]
            for _ in 0..<steps {
                power = [[power[0][0] * m[0][0] + power[0][1] * m[1][0], power[0][0] * m[0][1] + power[0][1] * m[1][1]],
                         [power[1][0] * m[0][0] + power[1][1] * m[1][0], power[1][0] * m[0][1] + power[1][1] * m[1][1]]]
            }
            factors += power[0][0]
        }
        let gain = 1 - factors / Double(p)
        #expect(isClose(scheme.pseudoGradientGain, gain, relative: 1e-9, absolute: 1e-12))
        #expect(scheme.probedRoundMap().maxAbsoluteDifference(scheme.roundMap()) <= 1e-9 * max(1, abs(gain)), "p \(p) H \(steps) δ \(delta)")
    }
}

@Test(arguments: [0.5, 0.9, 0.99])
func aKeptInnerVelocityMeetsNesterovsLimitForLongRoundsAndAResetExtendsIt(delta: Double) throws {
    // With many inner steps the round is the inner loop: kept, the edge is Nesterov's 2(1 + δ)/(1 + 2δ); reset at
    // each restart, the edge lies above it and approaches it as H grows.
    let limit = 2 * (1 + delta) / (1 + 2 * delta), solver = EigenSolver(maxDimension: 8)
    func radius(_ e: Double, _ steps: Int, kept: Bool) throws -> Double {
        try OuterSettings(innerMomentum: delta, keepsInnerVelocity: kept).round(workers: 4, innerRate: e, innerSteps: steps, curvatures: [1])
            .radius(solver: solver).radius
    }
    #expect(try radius(limit * 0.999, 64, kept: true) < 1 && radius(limit * 1.001, 64, kept: true) > 1)
    for steps in [4, 16] { #expect(try radius(limit * 1.001, steps, kept: false) < 1, "H = \(steps)") }
}

// The quantisation noise model's κ (Dynamics/QuantisationNoise.swift) against closed forms and against the real
// codec on Gaussian messages; its effect on DiLoCo's center is checked by Monte Carlo through the engine
// (EngineTests.quantisedPseudoGradientsHaveTheModelsCenterMSE).

import Dynamics
import Elastic
import Foundation
import NumericTesting
import Testing

@Test func theExpectedBlockMaximumMeetsItsClosedForms() {
    // E[Z²] = 1; E[max(Z₁², Z₂²)] = 1 + 2/π (the maximum of two squared standard normals).
    #expect(isClose(QuantisationNoise.expectedMaxSquare(block: 1), 1, relative: 1e-9))
    #expect(isClose(QuantisationNoise.expectedMaxSquare(block: 2), 1 + 2 / Double.pi, relative: 1e-9))
    #expect(isClose(QuantisationNoise.inverseSquaredMantissa, 0.541011, relative: 1e-6))
}

/// Standard normal draws (Box–Muller on SplitMix64).
private func gaussians(_ n: Int, seed: UInt64) -> [Float] {
    var r = SplitMix64(seed: seed)
    return (0..<n).map { _ in Float((-2 * log(1 - r.nextUniform())).squareRoot() * cos(2 * Double.pi * r.nextUniform())) }
}

@Test(arguments: [CodecFormat.fp16, .bf16, .int8, .int4], [CodecRounding.nearest, .stochastic])
func kappaIsTheRealCodecsErrorVarianceOnGaussianMessages(format: CodecFormat, rounding: CodecRounding) throws {
    // Messages of 2²⁰ standard normal values through the codec: the error's mean square over the message's is κ, to
    // within 4 standard errors of the ratio (blocks as the unit of independence) and 1 % (the model's
    // approximations: Benford's mantissa, the uniform error of nearest rounding).
    let n = 1 << 20, codec = Codec(format, rounding: rounding)
    let x = gaussians(n, seed: 11)
    var bytes = [UInt8](repeating: 0, count: codec.encodedBytes(count: n)), y = [Float](repeating: 0, count: n)
    var random = SplitMix64(seed: 5)
    x.withUnsafeBufferPointer { input in bytes.withUnsafeMutableBytes { codec.encode(input, into: $0, random: &random) } }
    bytes.withUnsafeBytes { raw in y.withUnsafeMutableBufferPointer { codec.decode(raw, into: $0) } }
    let block = 256, blocks = n / block
    var perBlock: [Double] = []
    var signal = 0.0
    for b in 0..<blocks {
        var e2 = 0.0
        for k in (b * block)..<((b + 1) * block) {
            let e = Double(y[k]) - Double(x[k])
            e2 += e * e
            signal += Double(x[k]) * Double(x[k])
        }
        perBlock.append(e2)
    }
    let meanSquareSignal = signal / Double(n)
    let mean = perBlock.reduce(0, +) / Double(blocks)
    let sd = (perBlock.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(blocks - 1)).squareRoot()
    let measured = mean / Double(block) / meanSquareSignal, se = sd / Double(blocks).squareRoot() / Double(block) / meanSquareSignal
    let kappa = try #require(QuantisationNoise(codec: codec, errorFeedback: false)).kappa
    #expect(abs(measured - kappa) < 4 * se + 0.01 * kappa, "\(format) \(rounding): measured κ \(measured) ± \(se), model \(kappa)")
}

@Test(arguments: [0.0, 0.05, 0.3])
func theCodedExchangesNoiseMeetsItsClosedFormForOneWorker(kappa: Double) throws {
    // p = 1, τ = 1: the state (x, x̃) with two independent inputs, the gradient noise ((η, 0), variance σ²) and the
    // codec's error ((−α, α): d = α(x + e − x̃)), of variance V = κ·E[w²], w = −η g_prev − e_prev, so
    // E[w²] = η²(h²P + σ²) + V with P = E[x²]. With G_ξ, G_e the stationary covariances for unit inputs
    // (LinearGaussian2's 3×3 Lyapunov solve, not the model's probed operator):
    //   V (1 − κ − κη²h² G_e,xx) = κη²σ²(h² G_ξ,xx + 1),   MSE = σ² G_ξ,x̃x̃ + V G_e,x̃x̃.
    let eta = 0.3, alpha = 0.2, h = 1.5, sigma = 0.7
    let m = (1 - eta * h - alpha, alpha, alpha, 1 - alpha)
    let gXi = try #require(LinearGaussian2(m: m, q: (eta * eta, 0, 0)).stationaryCovariance())
    let gE = try #require(LinearGaussian2(m: m, q: (alpha * alpha, -alpha * alpha, alpha * alpha)).stationaryCovariance())
    let v = kappa * eta * eta * sigma * sigma * (h * h * gXi.0 + 1) / (1 - kappa - kappa * eta * eta * h * h * gE.0)
    let mse = sigma * sigma * gXi.2 + v * gE.2
    let scheme = RoundRobinEASGD(workers: 1, eta: eta, alpha: alpha, objective: Quadratic(h: h))
    let model = try #require(try scheme.codedExchangeNoise(sigma: sigma, kappa: kappa))
    let uncompressed = try #require(try scheme.codedExchangeNoise(sigma: sigma, kappa: 0)).centerMSE
    #expect(isClose(model.centerMSE, mse, relative: 1e-10), "\(model.centerMSE) against \(mse)")
    #expect(isClose(model.errorVariance, v, relative: 1e-10, absolute: 1e-300), "\(model.errorVariance) against \(v)")
    // Uncompressed, one worker's round-robin EASGD is synchronous EASGD (β = α): its closed form (eigenvectors).
    let synchronous = SynchronousEASGD(workers: 1, eta: eta, alpha: alpha, h: h, sigma: sigma)
    let stationary = try #require(synchronous.centerMoments(at: nil, x0: 1, center0: 1)).moments
    #expect(isClose(uncompressed, stationary.variance, relative: 1e-10), "\(uncompressed) against \(stationary.variance)")
    if kappa > 0 { #expect(model.centerMSE > uncompressed) }
}

@Test func theCodedExchangesNoiseLeavesTheMeanSquareRegionWhereTheModelSays() throws {
    // κ large enough to matter: p = 1, τ = 1 is stable in mean square iff ρ(F) < 1 and 1 − κ − κη²h²G_e,xx > 0 (the
    // closed form above); the model's ρ(L) crosses 1 where that denominator does, bisected on η.
    let alpha = 0.2, h = 1.0, kappa = 0.3
    func denominator(_ eta: Double) -> Double? {
        let m = (1 - eta * h - alpha, alpha, alpha, 1 - alpha)
        let system = LinearGaussian2(m: m, q: (alpha * alpha, -alpha * alpha, alpha * alpha))
        guard system.spectralRadius < 1, let gE = system.stationaryCovariance() else { return nil }
        return 1 - kappa - kappa * eta * eta * h * h * gE.0
    }
    var low = 0.5, high = 2.0      // the closed form: positive at 0.5, negative (or ρ(F) ≥ 1) at 2.0
    #expect(try #require(denominator(low)) > 0)
    for _ in 0..<60 {
        let mid = (low + high) / 2
        if let d = denominator(mid), d > 0 { low = mid } else { high = mid }
    }
    let edge = low
    let stableFor = { (eta: Double) in try RoundRobinEASGD(workers: 1, eta: eta, alpha: alpha).codedExchangeNoise(sigma: 1, kappa: kappa) != nil }
    #expect(try stableFor(edge * (1 - 1e-6)))
    #expect(try !stableFor(edge * (1 + 1e-6)))
    // The deterministic round is still stable past it: the codec's noise, not the mean, sets this edge.
    let radius = try EigenSolver(maxDimension: 2).spectralRadius(of: RoundRobinEASGD(workers: 1, eta: edge * 1.01, alpha: alpha).probedRoundMap())
    #expect(radius < 1, "ρ(F) = \(radius) at 1.01 × the mean-square edge η = \(edge)")
}

@Test(arguments: [0.0, 0.03])
func eamsgdsCodedExchangeNoiseWithoutMomentumIsEasgds(kappa: Double) throws {
    // δ = 0 makes Algorithm 2 Algorithm 1 (the look-ahead is the iterate, the velocity one step): EAMSGD's model, on
    // its larger state (x…, v…, s…, x̃), must give EASGD's numbers.
    let easgd = try #require(try RoundRobinEASGD(workers: 3, eta: 0.4, alpha: 0.15, tau: 2).codedExchangeNoise(sigma: 0.8, kappa: kappa))
    let eamsgd = try #require(try RoundRobinEAMSGD(workers: 3, eta: 0.4, alpha: 0.15, momentum: 0, tau: 2).codedExchangeNoise(sigma: 0.8, kappa: kappa))
    #expect(isClose(eamsgd.centerMSE, easgd.centerMSE, relative: 1e-10), "\(eamsgd.centerMSE) against \(easgd.centerMSE)")
    #expect(isClose(eamsgd.errorVariance, easgd.errorVariance, relative: 1e-10, absolute: 1e-300))
    #expect(isClose(eamsgd.meanSquareRadius, easgd.meanSquareRadius, relative: 1e-8))
    // And momentum changes them (the test would pass vacuously if δ were ignored).
    let moving = try #require(try RoundRobinEAMSGD(workers: 3, eta: 0.4, alpha: 0.15, momentum: 0.5, tau: 2).codedExchangeNoise(sigma: 0.8, kappa: kappa))
    #expect(abs(moving.centerMSE / easgd.centerMSE - 1) > 0.01)
}

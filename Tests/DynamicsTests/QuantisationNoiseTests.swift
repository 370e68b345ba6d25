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

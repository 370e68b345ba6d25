// Compressed pseudo-gradients as noise on DiLoCo's synchronous round (issue 35, item 4).
//
// Each worker sends its pseudo-gradient through a codec. The model: the codec's error e on a value of the message w
// is zero-mean, independent across workers, coordinates and rounds, with variance κ·E[w²] — multiplicative noise,
// since every format's quantum scales with what it quantises:
//
//   fp16, bf16 (t = 10, 7 mantissa bits)   quantum u = 2^(e−t) for w = μ·2^e, μ ∈ [1, 2): E[u²] = 2^(−2t)·E[1/μ²]·E[w²],
//                                          E[1/μ²] = 3/(8 ln 2) for a log-uniform mantissa (Benford), so
//                                          κ = 2^(−2t)·0.541/c
//   int8, int4 (L = 127, 7 levels)         u = max over the block of |w| / L: E[u²] = c_B·E[w²]/L², c_B = E[max of B
//                                          squared standard normals] (w Gaussian, the same variance in the block), so
//                                          κ = c_B/(c·L²)
//
// with c = 6 for stochastic rounding (the error's variance u²·f(1 − f) averaged over the fraction f) and c = 12 for
// nearest (the error taken as uniform on ±u/2: an approximation, since nearest rounding is a function of w).
//
// Without error feedback the center receives Δ̄ + ē (ē the workers' mean error, of variance V/p where V = κ·E[w²]):
// the round's state s' = F s + b (ν̄ + ē), so C = (q + V/p)·G with G the Lyapunov solution for a unit input b, and
// E[w²] = m²·C₀₀ + p·q (w = Δ_i = m x̃ + worker i's own noise, of variance p·q). Hence
//   V = κ·q·(m²g + p) / (1 − κ m² g / p),   C₀₀ = (q + V/p)·g,   mean-square stable iff ρ(F) < 1 and κ m² g < p.
// With error feedback the worker sends w = Δ + r with r = −e of its last message, so the center receives
// Δ̄ + ē_t − ē_{t−1} (the errors telescope): the state gains ē_{t−1}, y' = A y + (b, 0) ν̄ + (b, 1) ē with
// A = [[F, −b], [0, 0]], and E[w²] = m² C₀₀ + p q + V − 2 m b₀ V / p (x̃ has seen ē_{t−1} through b₀). With g₁, g₂ the
// (0, 0) entries of the Lyapunov solutions for the inputs (b, 0) and (b, 1):
//   V = κ·q·(m² g₁ + p) / (1 − κ (m² g₂ / p + 1 − 2 m b₀ / p)),   C₀₀ = q g₁ + (V/p) g₂.
// Monte Carlo with the real codec through the engine checks both (EngineTests).

import Elastic
import Foundation

/// The codec's error as multiplicative noise: its variance κ·E[w²] per value.
public struct QuantisationNoise: Sendable, Equatable {
    public var kappa: Double
    public var errorFeedback: Bool

    public init(kappa: Double, errorFeedback: Bool) {
        self.kappa = kappa
        self.errorFeedback = errorFeedback
    }

    /// κ of a codec (module header); nil for no compression.
    public init?(codec: Codec, errorFeedback: Bool) {
        let c = codec.rounding == .stochastic ? 6.0 : 12.0
        switch codec.format {
        case .none: return nil
        case .fp16: kappa = pow(2, -20) * Self.inverseSquaredMantissa / c
        case .bf16: kappa = pow(2, -14) * Self.inverseSquaredMantissa / c
        case .int8: kappa = Self.expectedMaxSquare(block: codec.blockSize) / (c * 127 * 127)
        case .int4: kappa = Self.expectedMaxSquare(block: codec.blockSize) / (c * 7 * 7)
        }
        self.errorFeedback = errorFeedback
    }

    /// E[1/μ²] for μ log-uniform on [1, 2): ∫ μ⁻² dμ/(μ ln 2) = 3/(8 ln 2).
    public static let inverseSquaredMantissa = 3 / (8 * log(2.0))

    /// c_B = E[max of B squared standard normals] = ∫₀^∞ (1 − erf(√(t/2))^B) dt = ∫₀^∞ (1 − erf(u/√2)^B) 2u du
    /// (t = u², smooth at 0), by Simpson's rule on u ∈ [0, 15] (the integrand is below 1e-40 beyond for B ≤ 2²⁰),
    /// 20,000 intervals.
    public static func expectedMaxSquare(block: Int) -> Double {
        let upper = 15.0, intervals = 20_000, h = upper / Double(intervals)
        func f(_ u: Double) -> Double { 2 * u * (1 - pow(erf(u / 2.0.squareRoot()), Double(block))) }
        var sum = f(0) + f(upper)
        for k in 1..<intervals { sum += (k % 2 == 1 ? 4 : 2) * f(Double(k) * h) }
        return sum * h / 3
    }
}

/// The center's stationary MSE with quantised pseudo-gradients, and the codec's error variance per value.
public struct QuantisedRound: Sendable {
    /// C₀₀: the center's mean-square error per coordinate at the end of a round.
    public var centerMSE: Double
    /// The same without compression (gradient noise only).
    public var uncompressedMSE: Double
    /// V: the codec's error variance per value of a message; E[w²], the message's mean square.
    public var errorVariance: Double
    public var messageMeanSquare: Double

    public init(centerMSE: Double, uncompressedMSE: Double, errorVariance: Double, messageMeanSquare: Double) {
        self.centerMSE = centerMSE
        self.uncompressedMSE = uncompressedMSE
        self.errorVariance = errorVariance
        self.messageMeanSquare = messageMeanSquare
    }
}

extension SynchronousOuterScheme {
    /// The center's stationary MSE under gradient noise σ with each worker's pseudo-gradient quantised (module
    /// header); nil when the round is not stable in mean square. Identical workers only.
    public func stationaryCenterMSE(sigma: Double, quantisation: QuantisationNoise) throws -> QuantisedRound? {
        guard curvatures.count == 1 else {
            throw NoiseModelUnavailable("the quantisation model takes identical workers (one curvature): each worker's message variance would differ")
        }
        guard !innerVelocityIsState else {
            throw NoiseModelUnavailable("the center's MSE with the inner velocity kept across rounds is not modelled (its noise carries over rounds)")
        }
        guard try radius().radius < 1 else { return nil }
        let f = probedRoundMap(), b = probedNoiseInput(), n = stateDimension
        let q = pseudoGradientNoiseVariance(sigma: sigma), m = pseudoGradientGain, p = Double(workers), kappa = quantisation.kappa
        guard let g = Self.lyapunov(n, { f[$0, $1] }, input: b)?[0] else { return nil }
        let variance: Double, mse: Double
        if !quantisation.errorFeedback {
            let denominator = 1 - kappa * m * m * g / p
            guard denominator > 0 else { return nil }
            variance = kappa * q * (m * m * g + p) / denominator
            mse = (q + variance / p) * g
        } else {
            // y = (s, ē_{t−1}): A = [[F, −b], [0, 0]].
            let a: (Int, Int) -> Double = { i, j in i == n ? 0 : (j == n ? -b[i] : f[i, j]) }
            guard let g1 = Self.lyapunov(n + 1, a, input: b + [0])?[0], let g2 = Self.lyapunov(n + 1, a, input: b + [1])?[0] else { return nil }
            let denominator = 1 - kappa * (m * m * g2 / p + 1 - 2 * m * b[0] / p)
            guard denominator > 0 else { return nil }
            variance = kappa * q * (m * m * g1 + p) / denominator
            mse = q * g1 + variance / p * g2
        }
        guard mse.isFinite, variance.isFinite else { return nil }
        return QuantisedRound(centerMSE: mse, uncompressedMSE: q * g, errorVariance: variance,
                              messageMeanSquare: kappa > 0 ? variance / kappa : m * m * q * g + p * q)
    }

    /// The stationary covariance (row-major) of y' = A y + input·ξ for ξ of variance `variance`:
    /// (I − A⊗A) vec C = variance·vec(input inputᵀ).
    static func lyapunov(_ n: Int, _ a: (Int, Int) -> Double, input: [Double], variance: Double = 1) -> [Double]? {
        let size = n * n
        var system = [[Double]](repeating: [Double](repeating: 0, count: size + 1), count: size)
        for i in 0..<n { for j in 0..<n {
            let row = i * n + j
            for k in 0..<n { for l in 0..<n { system[row][k * n + l] -= a(i, k) * a(j, l) } }
            system[row][row] += 1
            system[row][size] = variance * input[i] * input[j]
        } }
        return solveDense(system)
    }
}

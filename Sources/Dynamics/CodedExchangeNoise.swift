// EASGD's and EAMSGD's coded exchange (issue 35, item 4) as noise on their round-robin rounds with gradient noise:
// the center's stationary mean-square error and whether the round stays stable in mean square.
//
// The exchange (Elastic's ElasticExchange.codedMessage/acceptCoded/applyDifference, what `--compress` runs): the
// worker sends w = x − s through the codec, s being what the master knows of x; both add what decodes, w + e, to s;
// the master moves the center by d = α(s − x̃), and both subtract d (from s, and the worker from x). So after an
// exchange s − x = e, the codec's error: what a message misses goes with the next one (error feedback by
// construction), and the elastic difference is taken from x + e instead of x — the codec's error enters the round
// as an additive input (−α to the worker, +α to the center), fresh at every exchange, and the next message carries
// it back: w = (x's local change since) − e_prev.
//
// Noise model (QuantisationNoise.swift): e zero-mean, uncorrelated with the state, of variance κ·E[w²]. State per
// coordinate y = (x_1, …, x_p, s_1, …, s_p, x̃); worker i's activation (τ ticks, the first with the exchange and the
// gradient at the pre-exchange point, as RoundRobinEASGD) is linear, y ← A_i y + B_i ξ + b_i e with ξ the τ
// gradient noises of variance σ², probed from the Elastic code itself. Its covariance step
//   C ← A_i C A_iᵀ + σ² B_i B_iᵀ + κ (w_iᵀ C w_i) b_i b_iᵀ,    w_i the coefficients of x_i − s_i,
// is linear in C (multiplicative noise); the round is the p activations in order, C ← L(C) + Q, solved for its
// fixed point on the symmetric matrices ((2p + 1)(p + 1) unknowns), and the round is stable in mean square iff
// ρ(L) < 1. With κ = 0 it is round-robin EASGD's own stationary MSE under gradient noise. EAMSGD adds each worker's
// velocity to the state, (x…, v…, s…, x̃), and its activation is Algorithm 2's (the gradient at the look-ahead point
// of the pre-exchange iterate, the coded exchange, then the Nesterov step). The Monte Carlo with the real codec
// through the engine checks both (EngineTests.codedExchangesHaveTheModelsCenterMSE); for p = 1, τ = 1 the closed
// form on (x, x̃) with LinearGaussian2 checks EASGD's, and with δ = 0 EAMSGD's must be EASGD's (DynamicsTests).

import Elastic
import Foundation

/// The coded exchange's stationary statistics (per coordinate, at the end of a round).
public struct CodedExchangeNoise: Sendable {
    /// C of x̃: the center's mean-square error under the codec's noise (κ = 0: without a codec).
    public var centerMSE: Double
    /// The codec's error variance per value, and E[w²] of a message, averaged over the p exchanges of a round.
    public var errorVariance: Double
    public var messageMeanSquare: Double
    /// ρ(L)^{1/2}: the second-moment operator's radius per round, square-rooted to compare with ρ(F).
    public var meanSquareRadius: Double
}

extension RoundRobinEASGD {
    /// The most workers the coded exchange's noise model takes: its operator has (2p + 1)(p + 1) unknowns.
    public static let codedNoiseMaxWorkers = 16

    /// The center's stationary MSE under gradient noise σ with every exchange coded and the codec's error of variance
    /// κ·E[w²] (module header); nil when the round is not stable in mean square.
    public func codedExchangeNoise(sigma: Double, kappa: Double) throws -> CodedExchangeNoise? {
        try CodedNoisyRound.of("easgd", workers: workers, most: Self.codedNoiseMaxWorkers, tau: tau, blocks: 1) { i, y, xi, e in
            codedActivation(worker: i, state: &y, noise: xi, error: e)
        }.noise(sigma: sigma, kappa: kappa)
    }

    /// Worker i's coded activation on the state (x…, s…, x̃) with gradient noises ξ (τ of them) and codec error e:
    /// the scheme's own ticks with the coded exchange.
    func codedActivation(worker i: Int, state y: inout [Double], noise xi: [Double], error e: Double) {
        let p = workers
        y.withUnsafeMutableBufferPointer { s in
            let x = slot(s, i), reference = slot(s, p + i), center = slot(s, 2 * p)
            ticks(x, noise: xi) { codedExchange(worker: x, reference: reference, center: center, error: e, alpha: alpha) }
        }
    }
}

extension RoundRobinEAMSGD {
    /// The most workers EAMSGD's coded noise model takes: (3p + 1)(3p + 2)/2 unknowns.
    public static let codedNoiseMaxWorkers = 8

    /// As RoundRobinEASGD's, with each worker's velocity in the state.
    public func codedExchangeNoise(sigma: Double, kappa: Double) throws -> CodedExchangeNoise? {
        try CodedNoisyRound.of("eamsgd", workers: workers, most: Self.codedNoiseMaxWorkers, tau: tau, blocks: 2) { i, y, xi, e in
            codedActivation(worker: i, state: &y, noise: xi, error: e)
        }.noise(sigma: sigma, kappa: kappa)
    }

    /// Worker i's coded activation on (x…, v…, s…, x̃): Algorithm 2's ticks with the coded exchange.
    func codedActivation(worker i: Int, state y: inout [Double], noise xi: [Double], error e: Double) {
        let p = workers
        y.withUnsafeMutableBufferPointer { s in
            let x = slot(s, i), v = slot(s, p + i), reference = slot(s, 2 * p + i), center = slot(s, 3 * p)
            ticks(x, v, noise: xi) { codedExchange(worker: x, reference: reference, center: center, error: e, alpha: alpha) }
        }
    }
}

/// Coordinate k of the state, as a one-value buffer.
private func slot(_ s: UnsafeMutableBufferPointer<Double>, _ k: Int) -> UnsafeMutableBufferPointer<Double> {
    UnsafeMutableBufferPointer(rebasing: s[k..<(k + 1)])
}

/// The coded exchange of one value with the codec's error e added to what decodes: the engine's sequence
/// (ElasticExchange.codedMessage, the codec, acceptCoded, applyDifference).
private func codedExchange(worker x: UnsafeMutableBufferPointer<Double>, reference: UnsafeMutableBufferPointer<Double>,
                           center: UnsafeMutableBufferPointer<Double>, error e: Double, alpha: Double) {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 1) { m in
        ElasticExchange.codedMessage(worker: UnsafeBufferPointer(x), reference: UnsafeBufferPointer(reference), into: m)
        m[0] += e                                        // what decodes
        ElasticExchange.acceptCoded(message: m, reference: reference, center: center, alpha: alpha)
        ElasticExchange.applyDifference(worker: x, difference: UnsafeBufferPointer(m))
    }
}

/// A round-robin round with gradient noise and coded exchanges, linear in (state, noises, error): its activations
/// on the state (`blocks` per-worker blocks — x, or x and v —, then the references s, then the center), and the
/// covariance's fixed point.
struct CodedNoisyRound {
    let workers: Int
    let tau: Int
    let blocks: Int
    let activate: (Int, inout [Double], [Double], Double) -> Void

    /// `method`'s round, refused beyond `most` workers (the operator grows as p²).
    static func of(_ method: String, workers: Int, most: Int, tau: Int, blocks: Int,
                   activate: @escaping (Int, inout [Double], [Double], Double) -> Void) throws -> CodedNoisyRound {
        guard workers <= most else {
            throw NoiseModelUnavailable("the coded exchange's noise model takes at most \(most) workers with \(method) (its operator grows as p²)")
        }
        return CodedNoisyRound(workers: workers, tau: tau, blocks: blocks, activate: activate)
    }

    var dimension: Int { (blocks + 1) * workers + 1 }
    var center: Int { (blocks + 1) * workers }
    func message(_ i: Int) -> Int { i }
    func reference(_ i: Int) -> Int { blocks * workers + i }

    func noise(sigma: Double, kappa: Double) throws -> CodedExchangeNoise? {
        guard let c = try covariance(sigma: sigma, kappa: kappa) else { return nil }
        return CodedExchangeNoise(centerMSE: c.covariance[center, center], errorVariance: c.errorVariance,
                                  messageMeanSquare: c.messageMeanSquare, meanSquareRadius: c.radius.squareRoot())
    }

    /// The stationary covariance of the state at the end of a round, the mean codec error variance and message mean
    /// square, and ρ(L); nil when ρ(L) ≥ 1 or the system is singular.
    func covariance(sigma: Double, kappa: Double) throws -> (covariance: Matrix, errorVariance: Double, messageMeanSquare: Double, radius: Double)? {
        let p = workers, d = dimension
        let zeros = [Double](repeating: 0, count: tau)
        // Per activation: A (probed), B's columns (one per tick's noise), b (the error's input), w (x_i − s_i).
        struct Activation { var a: Matrix; var noise: [[Double]]; var error: [Double]; var message: Int; var reference: Int }
        let activations: [Activation] = (0..<p).map { i in
            let a = Matrix.probing(d) { e in var y = e; activate(i, &y, zeros, 0); return y }
            let noise = (0..<tau).map { k -> [Double] in
                var y = [Double](repeating: 0, count: d), xi = zeros
                xi[k] = 1
                activate(i, &y, xi, 0)
                return y
            }
            var b = [Double](repeating: 0, count: d)
            activate(i, &b, zeros, 1)
            return Activation(a: a, noise: noise, error: b, message: message(i), reference: reference(i))
        }
        func messageSquare(_ c: Matrix, _ act: Activation) -> Double {
            c[act.message, act.message] - 2 * c[act.message, act.reference] + c[act.reference, act.reference]
        }
        // One activation's covariance step; `driven` adds the gradient noise (Q's part), otherwise only L's.
        func step(_ c: Matrix, _ act: Activation, driven: Bool) -> Matrix {
            let v = kappa * messageSquare(c, act)
            var next = act.a * c * act.a.transposed()
            for i in 0..<d { for j in 0..<d {
                var add = v * act.error[i] * act.error[j]
                if driven { for column in act.noise { add += sigma * sigma * column[i] * column[j] } }
                next[i, j] += add
            } }
            return next
        }
        func round(_ start: Matrix, driven: Bool) -> Matrix { activations.reduce(start) { step($0, $1, driven: driven) } }
        // L and Q on the symmetric matrices: unknowns C_kl, k ≤ l.
        var pairs: [(Int, Int)] = []
        for k in 0..<d { for l in k..<d { pairs.append((k, l)) } }
        let m = pairs.count
        var operatorMatrix = Matrix(rows: m, columns: m)
        for (column, (k, l)) in pairs.enumerated() {
            var basis = Matrix(rows: d, columns: d)
            basis[k, l] = 1
            basis[l, k] = 1
            let image = round(basis, driven: false)
            for (row, (i, j)) in pairs.enumerated() { operatorMatrix[row, column] = image[i, j] }
        }
        let radius = try EigenSolver(maxDimension: m).spectralRadius(of: operatorMatrix)
        guard radius.isFinite, radius < 1 else { return nil }
        let q = round(Matrix(rows: d, columns: d), driven: true)
        var system = [[Double]](repeating: [Double](repeating: 0, count: m + 1), count: m)
        for row in 0..<m {
            for column in 0..<m { system[row][column] = (row == column ? 1 : 0) - operatorMatrix[row, column] }
            system[row][m] = q[pairs[row].0, pairs[row].1]
        }
        guard let solution = solveDense(system) else { return nil }
        var covariance = Matrix(rows: d, columns: d)
        for (index, (k, l)) in pairs.enumerated() { covariance[k, l] = solution[index]; covariance[l, k] = solution[index] }
        // The messages' mean square within the stationary round: the covariance before each activation.
        var c = covariance, squares = 0.0
        for act in activations {
            squares += messageSquare(c, act)
            c = step(c, act, driven: true)
        }
        let meanSquare = squares / Double(p)
        guard covariance.storage.allSatisfy(\.isFinite), meanSquare.isFinite else { return nil }
        return (covariance, kappa * meanSquare, meanSquare, radius)
    }
}

// The top eigenvalue of a loss's Hessian, h_max, by power iteration on Hessian-vector products, each the
// central difference of two gradients: Hv ≈ (∇L(x + εv) − ∇L(x − εv))/(2ε), ‖v‖ = 1, in Double.
// Power iteration finds the eigenvalue of largest magnitude. When that one is negative (a saddle or a concave
// direction), a second run on H − λ₁I finds the largest algebraic eigenvalue, which is the one stability cares about.

import Elastic

public struct CurvatureEstimate: Sendable {
    public var topEigenvalue: Double
    /// Hessian-vector products used (each is two gradient evaluations).
    public var products: Int
    public var converged: Bool
}

public enum Curvature {
    /// `gradient(x, g)` writes ∇L(x) into g for a deterministic L. Stops when the Rayleigh quotient changes by
    /// less than `tolerance` relative between iterations, or after `maxIterations` products per run.
    public static func topEigenvalue(dimension n: Int, at x: [Double], epsilon: Double = 1e-5, tolerance: Double = 1e-4,
                                     maxIterations: Int = 200, seed: UInt64 = 1,
                                     gradient: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void) -> CurvatureEstimate {
        precondition(x.count == n && n > 0)
        var products = 0
        var plus = [Double](repeating: 0, count: n), minus = plus, gPlus = plus, gMinus = plus
        func hessianTimes(_ v: [Double], shift: Double) -> [Double] {
            for k in 0..<n { plus[k] = x[k] + epsilon * v[k]; minus[k] = x[k] - epsilon * v[k] }
            plus.withUnsafeBufferPointer { p in gPlus.withUnsafeMutableBufferPointer { gradient(p, $0) } }
            minus.withUnsafeBufferPointer { m in gMinus.withUnsafeMutableBufferPointer { gradient(m, $0) } }
            products += 1
            return (0..<n).map { (gPlus[$0] - gMinus[$0]) / (2 * epsilon) - shift * v[$0] }
        }
        func run(shift: Double, seed: UInt64) -> (Double, Bool) {
            var rng = SplitMix64(seed: seed)
            var v = (0..<n).map { _ in rng.nextGaussian() }
            normalize(&v)
            var lambda = 0.0
            for iteration in 0..<maxIterations {
                let w = hessianTimes(v, shift: shift)
                let next = zip(v, w).reduce(0) { $0 + $1.0 * $1.1 }
                var u = w
                let norm = normalize(&u)
                if norm == 0 { return (0, true) }
                if iteration > 0 && abs(next - lambda) <= tolerance * abs(next) { return (next, true) }
                lambda = next
                v = u
            }
            return (lambda, false)
        }
        let (first, ok1) = run(shift: 0, seed: seed)
        if first >= 0 { return CurvatureEstimate(topEigenvalue: first, products: products, converged: ok1) }
        let (second, ok2) = run(shift: first, seed: seed &+ 1)
        return CurvatureEstimate(topEigenvalue: second + first, products: products, converged: ok1 && ok2)
    }

    @discardableResult
    private static func normalize(_ v: inout [Double]) -> Double {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { for k in v.indices { v[k] /= norm } }
        return norm
    }
}

/// A run's training loss as a deterministic function of the parameters, in Double: the mean cross-entropy on a
/// fixed batch (the first `count` training images, centre crop, dropout off) plus λ/2·‖x‖². What `Curvature`
/// differentiates when a run is placed on the stability map.
public final class FixedBatchLoss {
    public let network: Network<Double>
    public let count: Int
    private let input: [Double]
    private let labels: [Int32]
    private let weightDecay: Double
    private var unused = SplitMix64(seed: 0)      // dropout is off; the stream is never drawn from

    public init(spec: NetSpec, train: Dataset, preprocessing: Preprocessing, count requested: Int, weightDecay: Double) {
        let batch = train.prefix(requested)
        let n = batch.count
        count = n
        network = Network<Double>(spec: spec, maxBatch: max(n, 1))
        let size = spec.input.count
        var floats = [Float](repeating: 0, count: n * size)
        floats.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { preprocessing.writeCentre(batch, index: i, into: p.baseAddress! + i * size) }
        }
        input = floats.map(Double.init)
        labels = batch.labels.map { Int32($0) }
        self.weightDecay = weightDecay
    }

    /// ∇L(x) into g.
    public func gradient(_ x: UnsafeBufferPointer<Double>, _ g: UnsafeMutableBufferPointer<Double>) {
        _ = labels.withUnsafeBufferPointer {
            network.lossAndGradient(parameters: x, input: input, labels: $0, batch: count, gradient: g, rng: &unused, training: false)
        }
        LocalStep.addWeightDecay(g, parameters: x, decay: weightDecay)
    }
}

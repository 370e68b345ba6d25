// The top eigenvalue of a loss's Hessian, h_max: the largest algebraic eigenvalue, by the Lanczos iteration on
// Hessian-vector products, each the central difference of two gradients: Hv ≈ (∇L(x + εv) − ∇L(x − εv))/(2ε),
// ‖v‖ = 1, in Double. Lanczos builds the tridiagonal T_k of H on the Krylov space of a random start; the
// largest eigenvalue of T_k (by bisection on its Sturm sequence) rises monotonically to H's largest eigenvalue,
// whatever the sign of the others. (Power iteration, used before, finds the eigenvalue of largest magnitude and
// with a shift the largest algebraic one; its relative-change test stopped early at a wrong value when a
// negative eigenvalue dominated and the spectrum was clustered.) Only three vectors are held: without
// reorthogonalisation converged Ritz values may repeat, which leaves the largest one unchanged.

import Elastic

public struct CurvatureEstimate: Sendable {
    public var topEigenvalue: Double
    /// Hessian-vector products used (each is two gradient evaluations).
    public var products: Int
    public var converged: Bool
}

public enum Curvature {
    /// `gradient(x, g)` writes ∇L(x) into g for a deterministic L. Stops when the largest Ritz value changes by
    /// less than `tolerance` relative in two successive iterations (or the Krylov space is exhausted), or after
    /// `maxIterations` products.
    public static func topEigenvalue(dimension n: Int, at x: [Double], epsilon: Double = 1e-5, tolerance: Double = 1e-4,
                                     maxIterations: Int = 200, seed: UInt64 = 1,
                                     gradient: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void) -> CurvatureEstimate {
        precondition(x.count == n && n > 0)
        var products = 0
        var plus = [Double](repeating: 0, count: n), minus = plus, gPlus = plus, gMinus = plus
        func hessianTimes(_ v: [Double], into w: inout [Double]) {
            for k in 0..<n { plus[k] = x[k] + epsilon * v[k]; minus[k] = x[k] - epsilon * v[k] }
            plus.withUnsafeBufferPointer { p in gPlus.withUnsafeMutableBufferPointer { gradient(p, $0) } }
            minus.withUnsafeBufferPointer { m in gMinus.withUnsafeMutableBufferPointer { gradient(m, $0) } }
            products += 1
            for k in 0..<n { w[k] = (gPlus[k] - gMinus[k]) / (2 * epsilon) }
        }
        var rng = SplitMix64(seed: seed)
        var v = (0..<n).map { _ in rng.nextGaussian() }
        normalize(&v)
        var previous = [Double](repeating: 0, count: n), w = previous
        var alphas: [Double] = [], betas: [Double] = []        // T's diagonal, and its off-diagonal
        var ritz: [Double] = []
        var beta = 0.0
        let limit = min(maxIterations, n)
        while alphas.count < limit {
            hessianTimes(v, into: &w)
            for k in 0..<n { w[k] -= beta * previous[k] }
            let alpha = zip(w, v).reduce(0) { $0 + $1.0 * $1.1 }
            for k in 0..<n { w[k] -= alpha * v[k] }
            alphas.append(alpha)
            let theta = largestEigenvalue(diagonal: alphas, offDiagonal: betas)
            ritz.append(theta)
            guard theta.isFinite else { return CurvatureEstimate(topEigenvalue: .nan, products: products, converged: false) }
            beta = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let scale = max(abs(theta), 1e-300)
            if beta <= 1e-12 * scale {      // an invariant subspace: T's eigenvalues are H's
                return CurvatureEstimate(topEigenvalue: theta, products: products, converged: true)
            }
            if ritz.count >= 3, abs(ritz[ritz.count - 1] - ritz[ritz.count - 2]) <= tolerance * scale,
               abs(ritz[ritz.count - 2] - ritz[ritz.count - 3]) <= tolerance * scale {
                return CurvatureEstimate(topEigenvalue: theta, products: products, converged: true)
            }
            betas.append(beta)
            previous = v
            for k in 0..<n { v[k] = w[k] / beta }
        }
        return CurvatureEstimate(topEigenvalue: ritz.last ?? .nan, products: products, converged: limit == n)
    }

    /// The largest eigenvalue of the symmetric tridiagonal matrix (diagonal a, off-diagonal b), by bisection on
    /// the Sturm count within the Gershgorin interval, to the last bits.
    static func largestEigenvalue(diagonal a: [Double], offDiagonal b: [Double]) -> Double {
        let m = a.count
        var lo = Double.infinity, hi = -Double.infinity
        for i in 0..<m {
            let r = (i > 0 ? abs(b[i - 1]) : 0) + (i < m - 1 ? abs(b[i]) : 0)
            lo = min(lo, a[i] - r)
            hi = max(hi, a[i] + r)
        }
        guard lo.isFinite, hi.isFinite else { return .nan }
        // The number of eigenvalues below t (the negative pivots of T − tI).
        func below(_ t: Double) -> Int {
            var count = 0, d = 1.0
            for i in 0..<m {
                d = a[i] - t - (i > 0 ? b[i - 1] * b[i - 1] / d : 0)
                if d == 0 { d = -1e-300 }
                if d < 0 { count += 1 }
            }
            return count
        }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if mid <= lo || mid >= hi { break }
            if below(mid) >= m { hi = mid } else { lo = mid }
        }
        return hi
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
        labels = batch.labels
        self.weightDecay = weightDecay
    }

    /// A run's training loss: the whole (sub)set it trained on for a full-batch run, else its first `batch` images.
    /// The one rule for `advise`, `validate` and `--sharpness-every`.
    public convenience init(spec: NetSpec, train: Dataset, preprocessing: Preprocessing, weightDecay: Double, fullBatch: Bool,
                            batch: Int = SharpnessProbe.batch) {
        self.init(spec: spec, train: train, preprocessing: preprocessing, count: fullBatch ? train.count : batch, weightDecay: weightDecay)
    }

    /// Records the ReLU and pooling pattern at x; until `release()`, `gradient` is that of the smooth net with
    /// the pattern fixed, whose Hessian at x is the one automatic differentiation gives (the gradient of a ReLU
    /// net jumps where a pre-activation changes sign, and a difference of gradients across a jump is no
    /// curvature). Call before differentiating around x.
    public func fix(at x: [Double]) {
        network.setActivationPattern(.record)
        var g = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { p in g.withUnsafeMutableBufferPointer { gradient(p, $0) } }
        network.setActivationPattern(.replay)
    }

    /// Back to the live pattern.
    public func release() { network.setActivationPattern(.live) }

    /// The top Hessian eigenvalue at x with the pattern fixed there (see `fix`).
    public func topEigenvalue(at x: [Double], tolerance: Double, maxIterations: Int) -> CurvatureEstimate {
        fix(at: x)
        defer { release() }
        return Curvature.topEigenvalue(dimension: x.count, at: x, tolerance: tolerance, maxIterations: maxIterations, gradient: gradient)
    }

    /// ∇L(x) into g.
    public func gradient(_ x: UnsafeBufferPointer<Double>, _ g: UnsafeMutableBufferPointer<Double>) {
        _ = labels.withUnsafeBufferPointer {
            network.lossAndGradient(parameters: x, input: input, labels: $0, batch: count, gradient: g, rng: &unused, training: false)
        }
        LocalStep.addWeightDecay(g, parameters: x, decay: weightDecay)
    }
}

// Synchronous EASGD on a noisy quadratic (the paper's appendix). Worker i sees g_i = h·x_i − ξ_i with
// ξ_i i.i.d. of variance σ² (x* = 0 without loss of generality); every step, all from the same time t:
//   x_i ← x_i − η g_i − α(x_i − x̃);   x̃ ← x̃ + α Σ_i (x_i − x̃)      (β = pα)
// With y = Σ_i x_i and c = x̃ the pair s = (y, c) is a linear Gaussian recursion s ← M s + n with
//   M = [[1 − ηh − α, pα], [α, 1 − pα]],  n = (η Σ_i ξ_i, 0),  Cov n = Q = diag(pη²σ², 0).
// For ηh, β > 0 the eigenvalues λ₁, λ₂ of M are real and distinct: with T = tr M, D = det M,
//   T² − 4D = (β − ηh)² + 2β(ηh + β)/p + β²/p² > 0.
// Closed forms (right/left eigenvectors v_j, w_j):
//   E c_t = Σ_j λ_j^t (v_j)₂ (w_jᵀ s₀)/(w_jᵀ v_j)
//   Var c_t = pη²σ² Σ_{k<t} (b₁λ₁^k + b₂λ₂^k)²,  b_j = (v_j)₂ (w_j)₁/(w_jᵀ v_j)
//           = pη²σ² [b₁² G(λ₁², t) + 2b₁b₂ G(λ₁λ₂, t) + b₂² G(λ₂², t)],  G(z, t) = (1 − z^t)/(1 − z), G(z, ∞) = 1/(1 − z)
// Stability (both |λ_j| < 1; Jury's conditions for the characteristic polynomial λ² − Tλ + D):
//   ηh > 0, β > 0, 4 − 2ηh − 2β(1 + 1/p) + ηhβ > 0 and |(1 − ηh)(1 − β) − β/p| < 1.
// Large p at fixed β (a = 1 − ηh, b = 1 − β; the workers' mean decouples from the center):
//   lim p·E[(x̃_∞ − x*)²] = η²σ²/(1 − a²) · β²(1 + ab)/((1 − ab)(1 − b²)).

import Elastic
import Foundation

public struct CenterMoments: Sendable, Equatable {
    public var mean: Double
    public var variance: Double
    public var mse: Double { mean * mean + variance }
    public init(mean: Double, variance: Double) {
        self.mean = mean
        self.variance = variance
    }
}

/// A 2-D linear Gaussian recursion s ← M s + n, Cov n = Q: the exact moment recursion and the stationary
/// second moment (the discrete Lyapunov equation S = M S Mᵀ + Q, solved as a 3×3 linear system).
public struct LinearGaussian2: Sendable {
    public var m: (Double, Double, Double, Double)      // m11, m12, m21, m22
    public var q: (Double, Double, Double)              // q11, q12, q22

    public init(m: (Double, Double, Double, Double), q: (Double, Double, Double)) {
        self.m = m
        self.q = q
    }

    /// Mean and covariance (s11, s12, s22) after t steps from the deterministic state s0.
    public func moments(from s0: (Double, Double), steps t: Int) -> (mean: (Double, Double), cov: (Double, Double, Double)) {
        var (a, b) = s0
        var (s11, s12, s22) = (0.0, 0.0, 0.0)
        let (m11, m12, m21, m22) = m
        for _ in 0..<t {
            (a, b) = (m11 * a + m12 * b, m21 * a + m22 * b)
            let n11 = m11 * m11 * s11 + 2 * m11 * m12 * s12 + m12 * m12 * s22 + q.0
            let n12 = m11 * m21 * s11 + (m11 * m22 + m12 * m21) * s12 + m12 * m22 * s22 + q.1
            let n22 = m21 * m21 * s11 + 2 * m21 * m22 * s12 + m22 * m22 * s22 + q.2
            (s11, s12, s22) = (n11, n12, n22)
        }
        return ((a, b), (s11, s12, s22))
    }

    /// The stationary covariance, or nil when the system has no solution (not stable).
    public func stationaryCovariance() -> (Double, Double, Double)? {
        let (m11, m12, m21, m22) = m
        var a: [[Double]] = [
            [1 - m11 * m11, -2 * m11 * m12, -m12 * m12, q.0],
            [-m11 * m21, 1 - (m11 * m22 + m12 * m21), -m12 * m22, q.1],
            [-m21 * m21, -2 * m21 * m22, 1 - m22 * m22, q.2],
        ]
        for col in 0..<3 {
            let pivot = (col..<3).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            guard abs(a[pivot][col]) > 1e-300 else { return nil }
            a.swapAt(col, pivot)
            for r in 0..<3 where r != col {
                let f = a[r][col] / a[col][col]
                for c in col..<4 { a[r][c] -= f * a[col][c] }
            }
        }
        return (a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2])
    }

    public var eigenvalues: (Complex, Complex) {
        let (m11, m12, m21, m22) = m
        return Complex.quadraticRoots(trace: m11 + m22, determinant: m11 * m22 - m12 * m21)
    }

    public var spectralRadius: Double { max(eigenvalues.0.magnitude, eigenvalues.1.magnitude) }
}

public struct SynchronousEASGD: Sendable {
    public let workers: Int
    public let eta: Double
    public let alpha: Double
    public let h: Double
    public let sigma: Double

    public init(workers: Int, eta: Double, alpha: Double, h: Double = 1, sigma: Double) {
        precondition(workers >= 1)
        self.workers = workers
        self.eta = eta
        self.alpha = alpha
        self.h = h
        self.sigma = sigma
    }

    public init(workers: Int, eta: Double, beta: Double, h: Double = 1, sigma: Double) {
        self.init(workers: workers, eta: eta, alpha: beta / Double(workers), h: h, sigma: sigma)
    }

    public var beta: Double { alpha * Double(workers) }

    /// M acting on (Σ_i x_i, x̃) and the noise covariance Q.
    public var recursion: LinearGaussian2 {
        let p = Double(workers)
        return LinearGaussian2(m: (1 - eta * h - alpha, p * alpha, alpha, 1 - p * alpha),
                               q: (p * eta * eta * sigma * sigma, 0, 0))
    }

    /// The two eigenvalues of M.
    public var eigenvalues: (Complex, Complex) { recursion.eigenvalues }

    public var spectralRadius: Double { max(eigenvalues.0.magnitude, eigenvalues.1.magnitude) }

    /// The closed-form stability condition (both eigenvalues strictly inside the unit circle).
    public static func isStable(etaH: Double, beta: Double, workers: Int) -> Bool {
        let p = Double(workers)
        let d = (1 - etaH) * (1 - beta) - beta / p
        return etaH > 0 && beta > 0 && 4 - 2 * etaH - 2 * beta * (1 + 1 / p) + etaH * beta > 0 && abs(d) < 1
    }

    public var isStable: Bool { SynchronousEASGD.isStable(etaH: eta * h, beta: beta, workers: workers) }

    /// How the closed form was evaluated: by the eigenvalues, or (within 1e-6 of a repeated eigenvalue, where the
    /// eigenvector formula loses accuracy) by the exact recursion / the Lyapunov equation.
    public enum Evaluation: String, Sendable { case eigenvalues, recursion }

    /// Mean, variance and MSE of x̃_t − x* starting from x_i = x0 (all workers) and x̃ = center0; t = nil is
    /// t → ∞ (nil result when the map is not stable, where the limit does not exist).
    public func centerMoments(at t: Int?, x0: Double, center0: Double) -> (moments: CenterMoments, evaluation: Evaluation)? {
        let p = Double(workers)
        if alpha == 0 {
            // The center never moves and receives no noise.
            return (CenterMoments(mean: center0, variance: 0), .eigenvalues)
        }
        let (l1, l2) = eigenvalues
        let scale = max(1, l1.magnitude, l2.magnitude)
        if t == nil && !(l1.magnitude < 1 && l2.magnitude < 1) { return nil }
        if (l1 - l2).magnitude <= 1e-6 * scale {
            if let t {
                let r = recursion.moments(from: (p * x0, center0), steps: t)
                return (CenterMoments(mean: r.mean.1, variance: r.cov.2), .recursion)
            }
            guard let s = recursion.stationaryCovariance() else { return nil }
            return (CenterMoments(mean: 0, variance: s.2), .recursion)
        }
        let (m11, m12, m21, _) = recursion.m
        let q = p * eta * eta * sigma * sigma
        // Right eigenvector v = (m12, λ − m11), left eigenvector w = (m21, λ − m11); m12 = β ≠ 0 here.
        func parts(_ l: Complex) -> (mean: Complex, b: Complex) {
            let v = (Complex(m12), l - Complex(m11))
            let w = (Complex(m21), l - Complex(m11))
            let norm = w.0 * v.0 + w.1 * v.1
            let ws0 = w.0 * Complex(p * x0) + w.1 * Complex(center0)
            return (v.1 * ws0 / norm, v.1 * w.0 / norm)
        }
        let (a1, b1) = parts(l1), (a2, b2) = parts(l2)
        func g(_ z: Complex) -> Complex {
            guard let t else { return Complex(1) / (Complex(1) - z) }
            if (z - Complex(1)).magnitude < 1e-15 { return Complex(Double(t)) }
            return (Complex(1) - z.power(t)) / (Complex(1) - z)
        }
        let mean: Complex = t.map { a1 * l1.power($0) + a2 * l2.power($0) } ?? Complex(0)
        let sum = b1 * b1 * g(l1 * l1) + Complex(2) * b1 * b2 * g(l1 * l2) + b2 * b2 * g(l2 * l2)
        return (CenterMoments(mean: mean.re, variance: q * sum.re), .eigenvalues)
    }

    /// The same moments by iterating the exact first- and second-moment recursion t times.
    public func centerMomentsByRecursion(at t: Int, x0: Double, center0: Double) -> CenterMoments {
        let r = recursion.moments(from: (Double(workers) * x0, center0), steps: t)
        return CenterMoments(mean: r.mean.1, variance: r.cov.2)
    }

    /// lim_{p→∞} p·E[(x̃_∞ − x*)²] at fixed β (see the top of this file); nil outside 0 < ηh < 2, 0 < β < 2.
    public static func largeWorkerLimit(eta: Double, beta: Double, h: Double, sigma: Double) -> Double? {
        let a = 1 - eta * h, b = 1 - beta
        guard abs(a) < 1, abs(b) < 1 else { return nil }
        return eta * eta * sigma * sigma / (1 - a * a) * beta * beta * (1 + a * b) / ((1 - a * b) * (1 - b * b))
    }

    /// Monte-Carlo with the `Elastic` update code: `replicas` independent runs side by side (each buffer holds
    /// one coordinate of every replica), Gaussian noise. Returns the sample mean and variance of x̃_t.
    public func monteCarlo(at t: Int, replicas: Int, x0: Double, center0: Double, seed: UInt64) -> CenterMoments {
        let r = replicas
        let storage = UnsafeMutableBufferPointer<Double>.allocate(capacity: (2 * workers + 1) * r)
        defer { storage.deallocate() }
        storage.initialize(repeating: 0)
        let xs = (0..<workers).map { UnsafeMutableBufferPointer(rebasing: storage[($0 * r)..<(($0 + 1) * r)]) }
        let gs = (0..<workers).map { UnsafeMutableBufferPointer(rebasing: storage[((workers + $0) * r)..<((workers + $0 + 1) * r)]) }
        let c = UnsafeMutableBufferPointer(rebasing: storage[(2 * workers * r)..<((2 * workers + 1) * r)])
        for x in xs { x.update(repeating: x0) }
        c.update(repeating: center0)
        var rng = SplitMix64(seed: seed)
        for _ in 0..<t {
            for i in 0..<workers {
                for k in 0..<r { gs[i][k] = h * xs[i][k] - sigma * rng.nextGaussian() }   // g_i at the pre-exchange point
            }
            ElasticExchange.synchronousExchange(workers: xs, center: c, alpha: alpha)
            for i in 0..<workers { LocalStep.sgd(xs[i], gradient: UnsafeBufferPointer(gs[i]), learningRate: eta) }
        }
        var mean = 0.0
        for k in 0..<r { mean += c[k] }
        mean /= Double(r)
        var v = 0.0
        for k in 0..<r { v += (c[k] - mean) * (c[k] - mean) }
        return CenterMoments(mean: mean, variance: v / Double(r - 1))
    }
}

/// The sequential references at the same η: SGD's iterate and MVASGD's moving average (rate r).
public enum SequentialNoisyQuadratic {
    /// x ← x − η(h x − ξ): closed form.
    public static func sgd(eta: Double, h: Double, sigma: Double, x0: Double, at t: Int?) -> CenterMoments? {
        let a = 1 - eta * h
        guard let t else {
            guard abs(a) < 1 else { return nil }
            return CenterMoments(mean: 0, variance: eta * eta * sigma * sigma / (1 - a * a))
        }
        let a2 = a * a
        let g = abs(a2 - 1) < 1e-15 ? Double(t) : (1 - pow(a2, Double(t))) / (1 - a2)
        return CenterMoments(mean: pow(a, Double(t)) * x0, variance: eta * eta * sigma * sigma * g)
    }

    /// SGD with the average z ← (1 − r) z + r x (after the step); moments of z.
    public static func mvasgd(eta: Double, h: Double, sigma: Double, rate r: Double, x0: Double, at t: Int?) -> CenterMoments? {
        let a = 1 - eta * h
        let system = LinearGaussian2(m: (a, 0, r * a, 1 - r),
                                     q: (eta * eta * sigma * sigma, r * eta * eta * sigma * sigma, r * r * eta * eta * sigma * sigma))
        guard let t else {
            guard system.spectralRadius < 1, let s = system.stationaryCovariance() else { return nil }
            return CenterMoments(mean: 0, variance: s.2)
        }
        let m = system.moments(from: (x0, x0), steps: t)
        return CenterMoments(mean: m.mean.1, variance: m.cov.2)
    }
}

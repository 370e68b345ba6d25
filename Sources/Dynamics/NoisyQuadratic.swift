// A multi-dimensional noisy quadratic F(x) = ½(x − x*)ᵀH(x − x*) with gradient noise of covariance Σ. Every
// update rule here is linear and applied coordinate-wise, so in H's eigenbasis U the directions evolve
// independently. Direction j sees curvature h_j, noise variance σ_j² = u_jᵀΣu_j and starts at u_jᵀx₀. The total
// MSE E‖x̃ − x*‖² is the sum over directions (cross-covariances do not enter a trace).

public struct NoisyQuadraticDirection: Sendable, Equatable {
    public var curvature: Double
    public var noiseVariance: Double
    public var x0: Double
    public var center0: Double
}

public struct NoisyQuadratic: Sendable {
    public var directions: [NoisyQuadraticDirection]

    public enum Problem: Error, CustomStringConvertible {
        case notSquare(String), notSymmetric(String), notPositiveDefinite(Double), negativeNoise(Double), sizes(String)
        public var description: String {
            switch self {
            case .notSquare(let what): return "\(what) is not a square matrix"
            case .notSymmetric(let what): return "\(what) is not symmetric"
            case .notPositiveDefinite(let h): return "the Hessian must be positive definite (it has the eigenvalue \(h))"
            case .negativeNoise(let v): return "the noise covariance must be positive semi-definite (a direction has variance \(v))"
            case .sizes(let why): return why
            }
        }
    }

    /// H given by its eigenvalues; the coordinates are H's eigenbasis, Σ = diag(σ_j²).
    public init(curvatures: [Double], sigmas: [Double], x0: [Double], center0: [Double]) throws {
        guard sigmas.count == curvatures.count, x0.count == curvatures.count, center0.count == curvatures.count else {
            throw Problem.sizes("give one noise level and one starting value per curvature (or a single one for all)")
        }
        if let bad = curvatures.first(where: { !($0 > 0) }) { throw Problem.notPositiveDefinite(bad) }
        directions = (0..<curvatures.count).map {
            NoisyQuadraticDirection(curvature: curvatures[$0], noiseVariance: sigmas[$0] * sigmas[$0],
                                    x0: x0[$0], center0: center0[$0])
        }
    }

    /// H and Σ as matrices (symmetric, in any basis); x₀ and x̃₀ in the same basis.
    public init(hessian: Matrix, noiseCovariance: Matrix, x0: [Double], center0: [Double]) throws {
        let n = hessian.rows
        guard hessian.columns == n else { throw Problem.notSquare("the Hessian") }
        guard noiseCovariance.rows == n, noiseCovariance.columns == n else {
            throw Problem.sizes("the noise covariance must be \(n)×\(n) like the Hessian")
        }
        guard x0.count == n, center0.count == n else { throw Problem.sizes("the starting points must have \(n) coordinates") }
        for (m, what) in [(hessian, "the Hessian"), (noiseCovariance, "the noise covariance")] {
            let scale = m.storage.reduce(0) { max($0, abs($1)) }
            for i in 0..<n { for j in 0..<i where abs(m[i, j] - m[j, i]) > 1e-12 * max(scale, 1e-300) {
                throw Problem.notSymmetric(what)
            } }
        }
        let (values, u) = try symmetricEigen(hessian)
        if let bad = values.first(where: { !($0 > 0) }) { throw Problem.notPositiveDefinite(bad) }
        directions = try (0..<n).map { j in
            var variance = 0.0, a = 0.0, c = 0.0
            for r in 0..<n {
                a += u[r, j] * x0[r]
                c += u[r, j] * center0[r]
                for s in 0..<n { variance += u[r, j] * noiseCovariance[r, s] * u[s, j] }
            }
            if variance < -1e-12 * noiseCovariance.storage.reduce(0) { max($0, abs($1)) } { throw Problem.negativeNoise(variance) }
            return NoisyQuadraticDirection(curvature: values[j], noiseVariance: max(variance, 0), x0: a, center0: c)
        }
    }
}

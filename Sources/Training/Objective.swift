// What an optimizer minimises: anything that turns a parameter vector into a (minibatch) loss and gradient.
// A CNN replica draws its next minibatch; the quadratic objective adds optional Gaussian gradient noise. The
// sequential methods (and the parallel engine) take any objective, so the same update code runs on both.

import Elastic

public protocol Objective<Scalar>: AnyObject {
    associatedtype Scalar: NetworkScalar
    var parameterCount: Int { get }
    /// The next sample's loss and gradient at `parameters` (weight decay not included).
    func lossAndGradient(at parameters: UnsafeBufferPointer<Scalar>, into gradient: UnsafeMutableBufferPointer<Scalar>) -> Double
    /// Everything random about the objective's future samples (data order, crops, dropout, noise), for checkpoints.
    var randomState: [UInt64] { get set }
}

extension Objective {
    public func lossAndGradient(at parameters: FlatBuffer<Scalar>, into gradient: FlatBuffer<Scalar>) -> Double {
        lossAndGradient(at: parameters.readOnly, into: gradient.pointer)
    }
}

extension Replica: Objective {
    public var randomState: [UInt64] {
        get {
            let s = stream.state
            return [UInt64(s.epoch), UInt64(s.position), s.augmentation, dropout.state]
        }
        set {
            precondition(newValue.count == 4, "a replica's random state has 4 words")
            stream.restore(StreamState(epoch: Int(newValue[0]), position: Int(newValue[1]), augmentation: newValue[2]))
            dropout.state = newValue[3]
        }
    }
}

/// F(x) = ½ Σ_j h_j (x_j − x*_j)², a quadratic with Hessian diag(h) and minimum 0 at x*, with optional
/// Gaussian noise of standard deviation σ on each gradient coordinate (g = H(x − x*) − ξ).
public final class QuadraticObjective<Scalar: NetworkScalar>: Objective {
    public let curvatures: [Double]
    public let minimizer: [Double]
    public let noise: Double
    public var rng: SplitMix64

    public init(curvatures: [Double], minimizer: [Double], noise: Double = 0, seed: UInt64 = 1) {
        precondition(curvatures.count == minimizer.count && !curvatures.isEmpty, "one curvature per coordinate")
        self.curvatures = curvatures
        self.minimizer = minimizer
        self.noise = noise
        rng = SplitMix64(seed: seed)
    }

    public var parameterCount: Int { curvatures.count }

    public var randomState: [UInt64] {
        get { [rng.state] }
        set { rng.state = newValue[0] }
    }

    public func lossAndGradient(at parameters: UnsafeBufferPointer<Scalar>, into gradient: UnsafeMutableBufferPointer<Scalar>) -> Double {
        var loss = 0.0
        for j in 0..<curvatures.count {
            let d = Double(parameters[j]) - minimizer[j]
            loss += 0.5 * curvatures[j] * d * d
            let xi = noise > 0 ? noise * rng.nextGaussian() : 0
            gradient[j] = Scalar(curvatures[j] * d - xi)
        }
        return loss
    }

    /// The exact gradient in Double (no noise), for curvature estimates.
    public func exactGradient(at x: UnsafeBufferPointer<Double>, into g: UnsafeMutableBufferPointer<Double>) {
        for j in 0..<curvatures.count { g[j] = curvatures[j] * (x[j] - minimizer[j]) }
    }

    /// ‖x − x*‖.
    public func distance(_ x: FlatBuffer<Scalar>) -> Double {
        var s = 0.0
        for j in 0..<curvatures.count { let d = Double(x[j]) - minimizer[j]; s += d * d }
        return s.squareRoot()
    }
}

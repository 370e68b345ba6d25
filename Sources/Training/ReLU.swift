// The rectifier of every inner layer: y = max(0, x); dL/dx = dL/dy where y > 0.

import Elastic

public final class ReLU<Scalar: NetworkScalar>: ParameterFreeLayer {
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public init(input: Shape) { inputShape = input }

    public var kind: String { "ReLU" }

    @_specialize(where Scalar == Float)
    public func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                        parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64) {
        for k in 0..<(n * inputShape.count) { y[k] = x[k] > 0 ? x[k] : 0 }
    }

    @_specialize(where Scalar == Float)
    public func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                         _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                         parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        guard let dx else { return }
        Scalar.maskByPositive(dy, where: y, into: dx, count: n * inputShape.count)
    }
}

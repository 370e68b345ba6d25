// Dropout with inverted scaling: in training each unit is kept with probability 1 − r and scaled by
// 1/(1 − r), so evaluation is the identity. The mask comes from the replica's own random stream.

import Elastic

public final class Dropout<Scalar: NetworkScalar>: ParameterFreeLayer {
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public let rate: Double
    private let mask = Scratch<Scalar>()

    public init(input: Shape, rate: Double) {
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1)")
        inputShape = input
        self.rate = rate
    }

    public var kind: String { "dropout \(rate)" }

    @_specialize(where Scalar == Float)
    public func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                        parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64) {
        let count = n * inputShape.count
        let m = mask.pointer(count: count)
        guard training, rate > 0 else {
            m.update(repeating: 1, count: count)
            y.update(from: x, count: count)
            return
        }
        let keep = Scalar(1 / (1 - rate))
        for k in 0..<count {
            m[k] = rng.nextUniform() >= rate ? keep : 0
            y[k] = x[k] * m[k]
        }
    }

    @_specialize(where Scalar == Float)
    public func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                         _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                         parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        guard let dx else { return }
        let m = mask.pointer(count: n * inputShape.count)
        for k in 0..<(n * inputShape.count) { dx[k] = dy[k] * m[k] }
    }
}

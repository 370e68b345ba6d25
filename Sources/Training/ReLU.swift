// The rectifier of every inner layer: y = max(0, x); dL/dx = dL/dy where y > 0. For Hessian-vector products by
// differences of gradients the pattern can be recorded at a point and replayed near it (`ActivationPattern`),
// which makes the net smooth there: the differences then see the Hessian an automatic differentiation would,
// not the jumps of the gradient where a pre-activation changes sign between x − εv and x + εv.

import Elastic

public final class ReLU<Scalar: NetworkScalar>: ParameterFreeLayer {
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public init(input: Shape) { inputShape = input }

    public var kind: String { "ReLU" }

    /// `.live` (training), or recording / replaying which inputs were positive.
    public var pattern = ActivationPattern.live
    private var positive: [Bool] = []

    @_specialize(where Scalar == Float)
    public func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                        parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64) {
        let count = n * inputShape.count
        switch pattern {
        case .live:
            // y = x where x > 0: the branch-free mask of the backward pass, with x as its own mask.
            Parallel.forEachBlock(count) { range in
                Scalar.maskByPositive(x + range.lowerBound, where: x + range.lowerBound, into: y + range.lowerBound,
                                      count: range.count)
            }
        case .record:
            positive = (0..<count).map { x[$0] > 0 }
            for k in 0..<count { y[k] = positive[k] ? x[k] : 0 }
        case .replay:
            precondition(positive.count == count, "replaying a ReLU pattern recorded for another batch")
            for k in 0..<count { y[k] = positive[k] ? x[k] : 0 }
        }
    }

    @_specialize(where Scalar == Float)
    public func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                         _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                         parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        guard let dx else { return }
        if pattern == .live {
            let count = n * inputShape.count
            Parallel.forEachBlock(count) { range in
                Scalar.maskByPositive(dy + range.lowerBound, where: y + range.lowerBound, into: dx + range.lowerBound,
                                      count: range.count)
            }
        } else {
            for k in 0..<(n * inputShape.count) { dx[k] = positive[k] ? dy[k] : 0 }
        }
    }
}

/// How the piecewise layers (ReLU, max pooling) choose their branch: `live` from the input, as in training;
/// `record` from the input, remembering the choice; `replay` the remembered choice whatever the input.
public enum ActivationPattern: Sendable, Equatable {
    case live, record, replay
}

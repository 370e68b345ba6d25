// Fully connected layer on the flattened input: y = x·Wᵀ + b, with x: N × In, W: Out × In.
// Parameters: W (Out × In, row-major) then b (Out).

import Elastic

public final class FullyConnected<Scalar: NetworkScalar>: Layer {
    public let inputShape: Shape
    public let outputShape: Shape
    public var parameterOffset = 0

    public init(input: Shape, outputs: Int) {
        inputShape = input
        outputShape = Shape(channels: outputs, height: 1, width: 1)
    }

    public var kind: String { "fully connected" }
    var inputs: Int { inputShape.count }
    var outputs: Int { outputShape.channels }
    var weightCount: Int { inputs * outputs }
    public var parameterCount: Int { weightCount + outputs }
    public var forwardFlopsPerImage: Int { 2 * weightCount }

    public func initialize(_ parameters: UnsafeMutableBufferPointer<Scalar>, rng: inout SplitMix64) {
        heInitialize(weights: UnsafeMutableBufferPointer(rebasing: parameters[0..<weightCount]), fanIn: inputs, rng: &rng)
        for k in weightCount..<parameterCount { parameters[k] = 0 }
    }

    @_specialize(where Scalar == Float)
    public func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                        parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64) {
        let bias = parameters + weightCount
        for i in 0..<n { (y + i * outputs).update(from: bias, count: outputs) }
        Scalar.gemm(transA: false, transB: true, m: n, n: outputs, k: inputs, alpha: 1,
                    a: x, lda: inputs, b: parameters, ldb: inputs, beta: 1, c: y, ldc: outputs)
    }

    @_specialize(where Scalar == Float)
    public func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                         _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                         parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        Scalar.gemm(transA: true, transB: false, m: outputs, n: inputs, k: n, alpha: 1,
                    a: dy, lda: outputs, b: x, ldb: inputs, beta: 0, c: gradient, ldc: inputs)
        let biasGradient = gradient + weightCount
        for o in 0..<outputs { biasGradient[o] = 0 }
        for i in 0..<n {
            let row = dy + i * outputs
            for o in 0..<outputs { biasGradient[o] += row[o] }
        }
        guard let dx else { return }
        Scalar.gemm(transA: false, transB: false, m: n, n: inputs, k: outputs, alpha: 1,
                    a: dy, lda: outputs, b: parameters, ldb: inputs, beta: 0, c: dx, ldc: inputs)
    }
}

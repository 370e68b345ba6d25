// The layer contract: paired forward/backward over NCHW batches, parameters read from (and gradients
// written to) the model's flat buffers at the layer's offset. Layers own only their scratch space
// (im2col columns, pooling indices, dropout masks), sized for the network's largest batch.

import Elastic

/// The size of one image in a batch: channels × height × width (NCHW, batch-major).
public struct Shape: Equatable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }
    public var count: Int { channels * height * width }
    public var description: String { "\(channels)×\(height)×\(width)" }
}

public protocol Layer<Scalar>: AnyObject {
    associatedtype Scalar: NetworkScalar
    /// A short human description, e.g. "conv 5×5/1".
    var kind: String { get }
    var inputShape: Shape { get }
    var outputShape: Shape { get }
    var parameterCount: Int { get }
    /// Where this layer's parameters start in the model's flat buffer (set when the network is built).
    var parameterOffset: Int { get set }
    /// Floating-point operations of the forward pass for one image (a multiply-add counts 2).
    var forwardFlopsPerImage: Int { get }

    /// Fill this layer's parameters (a view of exactly `parameterCount` entries).
    func initialize(_ parameters: UnsafeMutableBufferPointer<Scalar>, rng: inout SplitMix64)

    /// y = f(x; θ) for `batch` images. `parameters` points at the layer's own parameters.
    func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch: Int,
                 parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64)

    /// Given x, y = f(x) and dL/dy: writes dL/dθ into `gradient` (overwriting) and, when `dx` is not nil, dL/dx.
    func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                  _ dx: UnsafeMutablePointer<Scalar>?, batch: Int,
                  parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>)
}

/// A layer without parameters (ReLU, pooling, dropout): nothing to initialise, no place in the flat buffer, and
/// its forward FLOPs (comparisons and copies) are not counted.
public protocol ParameterFreeLayer: Layer {}

extension ParameterFreeLayer {
    public var parameterCount: Int { 0 }
    public var parameterOffset: Int {
        get { 0 }
        set {}
    }
    public var forwardFlopsPerImage: Int { 0 }
    public func initialize(_ parameters: UnsafeMutableBufferPointer<Scalar>, rng: inout SplitMix64) {}
}

/// Scratch space that grows to the largest size asked for and is then reused.
final class Scratch<Scalar: BinaryFloatingPoint> {
    private(set) var buffer = FlatBuffer<Scalar>(count: 0)
    func pointer(count: Int) -> UnsafeMutablePointer<Scalar> {
        if buffer.count < count { buffer = FlatBuffer(count: count) }
        return buffer.base
    }
}

/// He (Kaiming) normal initialisation for ReLU nets: weights ~ N(0, 2/fan_in), biases 0.
func heInitialize<Scalar: NetworkScalar>(weights: UnsafeMutableBufferPointer<Scalar>, fanIn: Int,
                                         rng: inout SplitMix64) {
    let std = (2.0 / Double(fanIn)).squareRoot()
    for k in 0..<weights.count { weights[k] = Scalar(std * rng.nextGaussian()) }
}

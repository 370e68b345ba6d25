// Max pooling over square windows (window w, stride s, no padding). Forward remembers where each
// maximum came from; backward routes the gradient back to exactly that input.

import Elastic

public final class MaxPooling<Scalar: NetworkScalar>: ParameterFreeLayer {
    public let inputShape: Shape
    public let outputShape: Shape
    public let window: Int
    public let stride: Int
    private var argmax: [Int32] = []

    public init(input: Shape, window: Int, stride: Int) {
        precondition(window >= 1 && stride >= 1 && input.height >= window && input.width >= window)
        inputShape = input
        self.window = window
        self.stride = stride
        outputShape = Shape(channels: input.channels, height: (input.height - window) / stride + 1,
                            width: (input.width - window) / stride + 1)
    }

    public var kind: String { "max pool \(window)×\(window)/\(stride)" }

    /// `.replay` takes each window's maximum where the last recorded (or live) pass found it.
    public var pattern = ActivationPattern.live

    @_specialize(where Scalar == Float)
    public func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                        parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64) {
        let (h, w) = (inputShape.height, inputShape.width)
        let (ho, wo) = (outputShape.height, outputShape.width)
        let planes = n * inputShape.channels
        if pattern == .replay {
            precondition(argmax.count >= planes * ho * wo, "replaying a pooling pattern recorded for a smaller batch")
            argmax.withUnsafeBufferPointer { arg in
                for p in 0..<planes {
                    for o in 0..<(ho * wo) { y[p * ho * wo + o] = x[p * h * w + Int(arg[p * ho * wo + o])] }
                }
            }
            return
        }
        if argmax.count < planes * ho * wo { argmax = [Int32](repeating: 0, count: planes * ho * wo) }
        let (window, stride) = (self.window, self.stride)
        if window == 2 && stride == 2 {
            argmax.withUnsafeMutableBufferPointer { arg in
                let argBase = arg.baseAddress!
                Parallel.forEach(planes) { range in
                    for p in range { Self.pool2x2(x + p * h * w, y + p * ho * wo, argBase + p * ho * wo, width: w, ho: ho, wo: wo) }
                }
            }
            return
        }
        argmax.withUnsafeMutableBufferPointer { arg in
            let argBase = arg.baseAddress!
            Parallel.forEach(planes) { range in for p in range {
                let src = x + p * h * w
                let dst = y + p * ho * wo
                let idx = argBase + p * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var best = (oy * stride) * w + ox * stride
                        var value = src[best]
                        for ky in 0..<window {
                            let rowStart = (oy * stride + ky) * w + ox * stride
                            for kx in 0..<window where src[rowStart + kx] > value {
                                value = src[rowStart + kx]
                                best = rowStart + kx
                            }
                        }
                        dst[oy * wo + ox] = value
                        idx[oy * wo + ox] = Int32(best)
                    }
                }
            } }
        }
    }

    /// The paper's 2×2/2 windows: the general loop's scan order (row by row, the first maximum wins) unrolled.
    @_specialize(where Scalar == Float)
    @inline(__always)
    private static func pool2x2(_ src: UnsafePointer<Scalar>, _ dst: UnsafeMutablePointer<Scalar>,
                                _ idx: UnsafeMutablePointer<Int32>, width w: Int, ho: Int, wo: Int) {
        for oy in 0..<ho {
            let top = 2 * oy * w, bottom = top + w
            for ox in 0..<wo {
                let i00 = top + 2 * ox, i10 = bottom + 2 * ox
                var value = src[i00], best = i00
                if src[i00 + 1] > value { value = src[i00 + 1]; best = i00 + 1 }
                if src[i10] > value { value = src[i10]; best = i10 }
                if src[i10 + 1] > value { value = src[i10 + 1]; best = i10 + 1 }
                dst[oy * wo + ox] = value
                idx[oy * wo + ox] = Int32(truncatingIfNeeded: best)
            }
        }
    }

    @_specialize(where Scalar == Float)
    public func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                         _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                         parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        guard let dx else { return }
        let (h, w) = (inputShape.height, inputShape.width)
        let out = outputShape.height * outputShape.width
        let planes = n * inputShape.channels
        argmax.withUnsafeBufferPointer { arg in
            let argBase = arg.baseAddress!
            Parallel.forEach(planes) { range in
                for p in range {
                    let d = dx + p * h * w
                    d.update(repeating: 0, count: h * w)
                    for o in 0..<out { d[Int(argBase[p * out + o])] += dy[p * out + o] }
                }
            }
        }
    }
}

// 2-D convolution (valid, square kernel k, stride s) by im2col over the whole batch and one matrix
// product per pass:  Y[Co × N·L] = W[Co × K] · col[K × N·L],  K = Ci·k·k,  L = Ho·Wo.
// Parameters: W (Co × Ci × k × k, row-major) then the bias b (Co).

import Elastic

public final class Convolution<Scalar: NetworkScalar>: Layer {
    public let inputShape: Shape
    public let outputShape: Shape
    public let kernel: Int
    public let stride: Int
    public var parameterOffset = 0

    private let columns = Scratch<Scalar>()     // col, kept from forward for backward
    private let product = Scratch<Scalar>()     // W·col (forward) and dL/d(W·col) (backward)
    private let columnGradient = Scratch<Scalar>()

    public init(input: Shape, outputChannels: Int, kernel: Int, stride: Int) {
        precondition(kernel >= 1 && stride >= 1 && input.height >= kernel && input.width >= kernel)
        inputShape = input
        self.kernel = kernel
        self.stride = stride
        outputShape = Shape(channels: outputChannels,
                            height: (input.height - kernel) / stride + 1,
                            width: (input.width - kernel) / stride + 1)
    }

    public var kind: String { "conv \(kernel)×\(kernel)/\(stride)" }
    var rows: Int { inputShape.channels * kernel * kernel }
    var weightCount: Int { outputShape.channels * rows }
    public var parameterCount: Int { weightCount + outputShape.channels }
    public var forwardFlopsPerImage: Int { 2 * weightCount * outputShape.height * outputShape.width }

    public func initialize(_ parameters: UnsafeMutableBufferPointer<Scalar>, rng: inout SplitMix64) {
        heInitialize(weights: UnsafeMutableBufferPointer(rebasing: parameters[0..<weightCount]), fanIn: rows, rng: &rng)
        for k in weightCount..<parameterCount { parameters[k] = 0 }
    }

    @_specialize(where Scalar == Float)
    public func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                        parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64) {
        let plane = outputShape.height * outputShape.width
        let width = n * plane
        let col = columns.pointer(count: rows * width)
        im2col(x, col, batch: n)
        let out = product.pointer(count: outputShape.channels * width)
        Scalar.gemm(transA: false, transB: false, m: outputShape.channels, n: width, k: rows, alpha: 1,
                    a: parameters, lda: rows, b: col, ldb: width, beta: 0, c: out, ldc: width)
        let bias = parameters + weightCount
        let channels = outputShape.channels
        Parallel.forEach(n) { images in
            for i in images {
                for c in 0..<channels {
                    let src = out + c * width + i * plane
                    let dst = y + (i * channels + c) * plane
                    let b = bias[c]
                    for l in 0..<plane { dst[l] = src[l] + b }
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    public func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                         _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                         parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        let plane = outputShape.height * outputShape.width
        let width = n * plane
        let channels = outputShape.channels
        let dOut = product.pointer(count: channels * width)
        let biasGradient = gradient + weightCount
        Parallel.forEach(channels) { range in
            for c in range {
                var sum: Scalar = 0
                for i in 0..<n {
                    let src = dy + (i * channels + c) * plane
                    let dst = dOut + c * width + i * plane
                    for l in 0..<plane {
                        dst[l] = src[l]
                        sum += src[l]
                    }
                }
                biasGradient[c] = sum
            }
        }
        let col = columns.pointer(count: rows * width)    // as left by forward
        Scalar.gemm(transA: false, transB: true, m: channels, n: rows, k: width, alpha: 1,
                    a: dOut, lda: width, b: col, ldb: width, beta: 0, c: gradient, ldc: rows)
        guard let dx else { return }
        let dCol = columnGradient.pointer(count: rows * width)
        Scalar.gemm(transA: true, transB: false, m: rows, n: width, k: channels, alpha: 1,
                    a: parameters, lda: rows, b: dOut, ldb: width, beta: 0, c: dCol, ldc: width)
        col2im(dCol, dx, batch: n)
    }

    /// col[(c, ky, kx), i·L + oy·Wo + ox] = x[i, c, oy·s + ky, ox·s + kx].
    @_specialize(where Scalar == Float)
    private func im2col(_ x: UnsafePointer<Scalar>, _ col: UnsafeMutablePointer<Scalar>, batch n: Int) {
        let (h, w) = (inputShape.height, inputShape.width)
        let (ho, wo) = (outputShape.height, outputShape.width)
        let plane = ho * wo, width = n * plane, s = stride
        let (channels, k) = (inputShape.channels, kernel)
        Parallel.forEach(channels * k * k) { rows in
            for r in rows {
                let (c, ky, kx) = (r / (k * k), r / k % k, r % k)
                let row = col + r * width
                for i in 0..<n {
                    let image = x + (i * channels + c) * h * w
                    let dst = row + i * plane
                    for oy in 0..<ho {
                        let src = image + (oy * s + ky) * w + kx
                        let d = dst + oy * wo
                        if s == 1 {
                            d.update(from: src, count: wo)
                        } else {
                            for ox in 0..<wo { d[ox] = src[ox * s] }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: dx[i, c, oy·s + ky, ox·s + kx] += dcol[(c, ky, kx), i·L + oy·Wo + ox].
    @_specialize(where Scalar == Float)
    private func col2im(_ dCol: UnsafePointer<Scalar>, _ dx: UnsafeMutablePointer<Scalar>, batch n: Int) {
        let (h, w) = (inputShape.height, inputShape.width)
        let (ho, wo) = (outputShape.height, outputShape.width)
        let plane = ho * wo, width = n * plane, s = stride
        let channels = inputShape.channels
        // In parallel over input channels: each owns its planes of dx, and the order of the sums within a
        // channel does not depend on the thread count.
        Parallel.forEach(channels) { range in
            for c in range {
                for i in 0..<n { (dx + (i * channels + c) * h * w).update(repeating: 0, count: h * w) }
                for ky in 0..<kernel {
                    for kx in 0..<kernel {
                        let row = dCol + ((c * kernel + ky) * kernel + kx) * width
                        for i in 0..<n {
                            let image = dx + (i * channels + c) * h * w
                            let src = row + i * plane
                            for oy in 0..<ho {
                                let d = image + (oy * s + ky) * w + kx
                                let r = src + oy * wo
                                for ox in 0..<wo { d[ox * s] += r[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
}

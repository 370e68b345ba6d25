// 2-D convolution (valid, square kernel k, stride s), on one of three paths (`ConvolutionPath`):
//   winograd  Winograd F(4×4, 5×5) (Float only; 5×5 kernels, stride 1, output sides multiples of 4): 8×8 input
//             tiles transformed, one product over channels per point of the transform domain (oneDNN's sgemm),
//             6.25× fewer multiplications than the direct convolution (CDNNL's winograd.c; backward is the exact
//             adjoint of forward). It rounds differently: ~5e-6 of the output's scale against ~2e-7 direct;
//   onednn    oneDNN's convolution kernels (Float only; AVX2 or AVX-512 JIT code on blocked layouts, through the
//             CDNNL shim, which reorders from and to the network's layouts);
//   im2col    im2col over the whole batch and one matrix product per pass (`NetworkScalar.gemm`: oneDNN's sgemm
//             for Float, OpenBLAS's dgemm for Double):
//             Y[Co × N·L] = W[Co × K] · col[K × N·L],  K = Ci·k·k,  L = Ho·Wo  (any scalar; the Double reference).
// A path that cannot build a layer's shape falls back to the next: winograd → onednn → im2col.
// Parameters: W (Co × Ci × k × k, row-major) then the bias b (Co). Images are N × C × H × W on every path.
// A convolution followed by 2×2/2 max pooling may carry the pooling and the rectifier after it (`pooled`): on
// oneDNN they then read and write oneDNN's blocked tensors directly, skipping two reorders of the full-size
// output (CDNNL's pooled forms); on the other paths the layer runs its own pooling and rectifier layers.

import CDNNL
import CKernels
import Elastic
import Foundation

public final class Convolution<Scalar: NetworkScalar>: Layer {
    public let inputShape: Shape
    /// The convolution's own output; `outputShape` is the pooled one when the layer carries the pooling.
    public let convolutionShape: Shape
    public let outputShape: Shape
    public let kernel: Int
    public let stride: Int
    public var parameterOffset = 0

    private let columns = Scratch<Scalar>()     // col, kept from forward for backward
    private let product = Scratch<Scalar>()     // W·col (forward) and dL/d(W·col) (backward)
    private let columnGradient = Scratch<Scalar>()

    /// The path this layer computes on: `ConvolutionPath.preferred` for Float (a path that refuses the shape falls
    /// back to the next), im2col for Double. Set it to force a path.
    public var path: ConvolutionPath
    /// Whether backward runs at all (a network that only evaluates builds no backward pass) and whether it computes
    /// dL/dx (the network's first layer does not). Set before the first forward pass.
    public var computesGradients = true
    public var computesInputGradient = true
    /// Why the path asked for is not used, when `path` fell back after Winograd or oneDNN refused the shape.
    public private(set) var fallbackReason: String?
    private let kernels = KernelHandles(destroy: easgd_dnnl_conv_destroy)
    private let winogradKernels = KernelHandles(destroy: easgd_winograd_destroy)

    /// The 2×2/2 max pooling and rectifier this layer computes after the convolution (conv → pool → ReLU).
    private let tail: (pool: MaxPooling<Scalar>, relu: ReLU<Scalar>)?
    /// Whether the last forward pass ran oneDNN's pooled form (its backward then does, from `codes`): a carried
    /// pooling on oneDNN whose output layout is blocked (channels a multiple of 8 or 16) on a CPU with AVX2.
    public private(set) var pooledOnDNNL = false
    private var codes: [UInt8] = []
    private let full = Scratch<Scalar>(), fullGradient = Scratch<Scalar>()
    private let pooledOutput = Scratch<Scalar>(), pooledGradient = Scratch<Scalar>()
    /// How the carried pooling and rectifier choose their branch (see `ActivationPattern`).
    public var pattern = ActivationPattern.live {
        didSet { tail?.pool.pattern = pattern; tail?.relu.pattern = pattern }
    }

    /// `pooled`: the layer also computes 2×2/2 max pooling and then the rectifier (output sides must be even).
    public init(input: Shape, outputChannels: Int, kernel: Int, stride: Int, pooled: Bool = false) {
        precondition(kernel >= 1 && stride >= 1 && input.height >= kernel && input.width >= kernel)
        inputShape = input
        self.kernel = kernel
        self.stride = stride
        convolutionShape = Shape(channels: outputChannels,
                            height: (input.height - kernel) / stride + 1,
                            width: (input.width - kernel) / stride + 1)
        if pooled {
            precondition(convolutionShape.height % 2 == 0 && convolutionShape.width % 2 == 0)
            let pool = MaxPooling<Scalar>(input: convolutionShape, window: 2, stride: 2)
            tail = (pool, ReLU<Scalar>(input: pool.outputShape))
            outputShape = pool.outputShape
        } else {
            tail = nil
            outputShape = convolutionShape
        }
        // Settled here rather than at the first step, so that a run's records name the path its layers take.
        (path, fallbackReason) = Self.defaultPath(input: input, outputChannels: outputChannels, kernel: kernel, stride: stride)
    }

    /// The path a layer of this shape takes unless one is asked for: `ConvolutionPath.preferred` for Float, with
    /// Winograd's refusal (shape, CPU) settled, and why Winograd was refused; im2col for Double.
    public static func defaultPath(input: Shape, outputChannels: Int, kernel: Int, stride: Int)
        -> (path: ConvolutionPath, refusal: String?) {
        guard Scalar.self == Float.self else { return (.im2col, nil) }
        let preferred = ConvolutionPath.preferred(input: input, outputChannels: outputChannels, kernel: kernel, stride: stride)
        if preferred == .winograd, let reason = ConvolutionPath.winogradRefusal(input: input, kernel: kernel, stride: stride) {
            return (.onednn, reason)
        }
        return (preferred, nil)
    }

    /// What computes this layer at its last batch size: oneDNN's implementations ("fwd jit:avx512_core, …"),
    /// "Winograd F(4×4, 5×5) + oneDNN sgemm", or "im2col + …".
    public var implementation: String {
        switch path {
        case .winograd: "Winograd F(4×4, 5×5) + oneDNN sgemm"
        case .onednn: kernels.current.map { String(cString: easgd_dnnl_conv_implementation($0)) } ?? "onednn"
        case .im2col: Scalar.self == Float.self ? "im2col + oneDNN sgemm" : "im2col + OpenBLAS dgemm"
        }
    }

    /// The Winograd convolution for `batch` images, built on first use; nil (and the path switched to oneDNN) when
    /// it cannot be built. Its results do not depend on the thread count, so one serves every count.
    private func winograd(batch n: Int) -> OpaquePointer? {
        if let handle = winogradKernels.handle(batch: n, threads: 0) { return handle }
        var message = [CChar](repeating: 0, count: 256)
        let refusal = ConvolutionPath.winogradRefusal(input: inputShape, kernel: kernel, stride: stride)
        guard refusal == nil,
              let handle = easgd_winograd_create(Int32(n), Int32(inputShape.channels), Int32(inputShape.height),
                                                 Int32(inputShape.width), Int32(convolutionShape.channels),
                                                 &message, message.count) else {
            fallbackReason = refusal ?? text(message)
            path = .onednn
            return nil
        }
        winogradKernels.insert(handle, batch: n, threads: 0)
        return handle
    }

    /// The oneDNN convolution for `batch` images, built on first use; nil (and the path switched to im2col) when
    /// oneDNN cannot build it.
    private func oneDNN(batch n: Int) -> OpaquePointer? {
        let threads = ComputeThreads.current
        if let handle = kernels.handle(batch: n, threads: threads) { return handle }
        var message = [CChar](repeating: 0, count: 256)
        guard let handle = easgd_dnnl_conv_create(Int32(n), Int32(inputShape.channels), Int32(inputShape.height),
                                                  Int32(inputShape.width), Int32(convolutionShape.channels),
                                                  Int32(kernel), Int32(stride),
                                                  !computesGradients ? 0 : computesInputGradient ? 2 : 1,
                                                  Int32(threads), &message, message.count) else {
            fallbackReason = text(message)
            path = .im2col
            return nil
        }
        kernels.insert(handle, batch: n, threads: threads)
        return handle
    }

    public var kind: String { "conv \(kernel)×\(kernel)/\(stride)" + (tail == nil ? "" : " + max pool 2×2/2 + ReLU") }
    /// Whether the layer carries the pooling and the rectifier after it.
    public var isPooled: Bool { tail != nil }
    var rows: Int { inputShape.channels * kernel * kernel }
    var weightCount: Int { convolutionShape.channels * rows }
    public var parameterCount: Int { weightCount + convolutionShape.channels }
    public var forwardFlopsPerImage: Int { 2 * weightCount * convolutionShape.height * convolutionShape.width }
    /// The FLOPs of the forward pass's products as this layer's path computes them: `forwardFlopsPerImage`, except
    /// on the Winograd path, whose products do 64 points × Co × Ci multiply-adds per 4×4 output tile (its
    /// transforms, about a fifth more at the CIFAR net's second layer, are not counted).
    public var productFlopsPerImage: Int {
        guard path == .winograd else { return forwardFlopsPerImage }
        return 2 * 64 * convolutionShape.channels * inputShape.channels * (convolutionShape.height / 4) * (convolutionShape.width / 4)
    }

    public func initialize(_ parameters: UnsafeMutableBufferPointer<Scalar>, rng: inout SplitMix64) {
        heInitialize(weights: UnsafeMutableBufferPointer(rebasing: parameters[0..<weightCount]), fanIn: rows, rng: &rng)
        for k in weightCount..<parameterCount { parameters[k] = 0 }
    }

    @_specialize(where Scalar == Float)
    public func forward(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                        parameters: UnsafePointer<Scalar>, training: Bool, rng: inout SplitMix64) {
        guard let tail else { return convolve(x, y, batch: n, parameters: parameters) }
        pooledOnDNNL = false
        if path == .onednn, Scalar.self == Float.self, let handle = oneDNN(batch: n), easgd_dnnl_conv_pool_block(handle) > 0 {
            let count = n * outputShape.count
            if pattern == .replay {
                precondition(codes.count >= count, "replaying a pooling pattern recorded for a smaller batch")
            } else if codes.count < count {
                codes = [UInt8](repeating: 0, count: count)
            }
            let status = codes.withUnsafeMutableBufferPointer {
                easgd_dnnl_conv_forward_pooled(handle, floats(x), floats(parameters), floats(parameters + weightCount),
                                               floats(y), $0.baseAddress, pattern == .replay ? 1 : 0)
            }
            precondition(status == 0, "oneDNN pooled convolution forward failed (status \(status))")
            pooledOnDNNL = true
            return
        }
        let convolved = full.pointer(count: n * convolutionShape.count)
        let pooled = pooledOutput.pointer(count: n * outputShape.count)
        convolve(x, convolved, batch: n, parameters: parameters)
        tail.pool.forward(convolved, pooled, batch: n, parameters: parameters, training: training, rng: &rng)
        tail.relu.forward(pooled, y, batch: n, parameters: parameters, training: training, rng: &rng)
    }

    @_specialize(where Scalar == Float)
    public func backward(_ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                         _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                         parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        guard let tail else { return convolveBackward(x, dy, dx, batch: n, parameters: parameters, gradient: gradient) }
        if pooledOnDNNL, Scalar.self == Float.self, let handle = kernels.handle(batch: n, threads: ComputeThreads.current) {
            precondition(computesGradients && (dx == nil || computesInputGradient), "a gradient asked of a layer built without it")
            let status = codes.withUnsafeBufferPointer {
                easgd_dnnl_conv_backward_pooled(handle, floats(dy), $0.baseAddress, floats(gradient),
                                                floats(gradient + weightCount), dx.map { floats($0) })
            }
            precondition(status == 0, "oneDNN pooled convolution backward failed (status \(status))")
            return
        }
        precondition(!pooledOnDNNL, "convolution backward at a batch size or thread count its forward did not run")
        let convolved = full.pointer(count: n * convolutionShape.count)
        let pooled = pooledOutput.pointer(count: n * outputShape.count)
        let dPooled = pooledGradient.pointer(count: n * outputShape.count)
        let dConvolved = fullGradient.pointer(count: n * convolutionShape.count)
        tail.relu.backward(pooled, y, dy, dPooled, batch: n, parameters: parameters, gradient: gradient)
        tail.pool.backward(convolved, pooled, dPooled, dConvolved, batch: n, parameters: parameters, gradient: gradient)
        convolveBackward(x, dConvolved, dx, batch: n, parameters: parameters, gradient: gradient)
    }

    @_specialize(where Scalar == Float)
    private func convolve(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, batch n: Int,
                          parameters: UnsafePointer<Scalar>) {
        if path == .winograd, Scalar.self == Float.self, let handle = winograd(batch: n) {
            let status = easgd_winograd_forward(handle, floats(x), floats(parameters), floats(parameters + weightCount),
                                                floats(y))
            precondition(status == 0, "Winograd convolution forward failed (oneDNN sgemm status \(status))")
            return
        }
        if path == .onednn, Scalar.self == Float.self, let handle = oneDNN(batch: n) {
            let status = easgd_dnnl_conv_forward(handle, floats(x), floats(parameters), floats(parameters + weightCount),
                                                 floats(y))
            precondition(status == 0, "oneDNN convolution forward failed (status \(status))")
            return
        }
        let plane = convolutionShape.height * convolutionShape.width
        let width = n * plane
        let col = columns.pointer(count: rows * width)
        im2col(x, col, batch: n)
        let out = product.pointer(count: convolutionShape.channels * width)
        Scalar.gemm(transA: false, transB: false, m: convolutionShape.channels, n: width, k: rows, alpha: 1,
                    a: parameters, lda: rows, b: col, ldb: width, beta: 0, c: out, ldc: width)
        let bias = parameters + weightCount
        let channels = convolutionShape.channels
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
    private func convolveBackward(_ x: UnsafePointer<Scalar>, _ dy: UnsafePointer<Scalar>,
                                  _ dx: UnsafeMutablePointer<Scalar>?, batch n: Int,
                                  parameters: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>) {
        if path == .winograd, Scalar.self == Float.self, let handle = winogradKernels.handle(batch: n, threads: 0) {
            precondition(computesGradients, "a gradient asked of a layer built without it")
            let status = easgd_winograd_backward(handle, floats(dy), floats(gradient), floats(gradient + weightCount),
                                                 dx.map { floats($0) })
            precondition(status == 0, "Winograd convolution backward failed (oneDNN sgemm status \(status))")
            return
        }
        if path == .onednn, Scalar.self == Float.self, let handle = kernels.handle(batch: n, threads: ComputeThreads.current) {
            precondition(computesGradients && (dx == nil || computesInputGradient), "a gradient asked of a layer built without it")
            let status = easgd_dnnl_conv_backward(handle, floats(dy), floats(gradient), floats(gradient + weightCount),
                                                  dx.map { floats($0) })
            precondition(status == 0, "oneDNN convolution backward failed (status \(status))")
            return
        }
        precondition(path == .im2col, "convolution backward at a batch size its forward did not run")
        let plane = convolutionShape.height * convolutionShape.width
        let width = n * plane
        let channels = convolutionShape.channels
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
        let (ho, wo) = (convolutionShape.height, convolutionShape.width)
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
        let (ho, wo) = (convolutionShape.height, convolutionShape.width)
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


/// Where a convolution's arithmetic happens (see the top of this file). A Double network always takes im2col.
public enum ConvolutionPath: String, Sendable, CaseIterable, Codable {
    case winograd, onednn, im2col

    /// The path every Float layer is asked to take, from the environment (`EASGD_CONVOLUTION=winograd|onednn|
    /// im2col`), or nil: each layer takes `preferred(…)`'s choice for its shape.
    public static let forced: ConvolutionPath? = {
        guard let value = ProcessInfo.processInfo.environment["EASGD_CONVOLUTION"], !value.isEmpty else { return nil }
        return ConvolutionPath(rawValue: value)
    }()

    /// A Float layer's path: `forced` if set; else Winograd where it fits (5×5, stride 1, output sides multiples
    /// of 4) and its products dominate its transforms (at least 16 input channels: the paper's second CIFAR layer
    /// takes it, about 3× faster than oneDNN's kernels there; its first, 3 channels, would be about 3× slower; 8
    /// channels tie); else oneDNN.
    public static func preferred(input: Shape, outputChannels: Int, kernel: Int, stride: Int) -> ConvolutionPath {
        if let forced { return forced }
        let fits = winogradRefusal(input: input, kernel: kernel, stride: stride) == nil
        return fits && input.channels >= 16 ? .winograd : .onednn
    }

    /// The path each convolution of `spec` takes by default (Float), in order.
    public static func defaults(_ spec: NetSpec) -> [ConvolutionPath] {
        var plain = spec
        plain.convolutionPaths = nil
        return Network<Float>.layers(plain).compactMap { ($0 as? Convolution<Float>)?.path }
    }

    /// What a run recorded before runs recorded their paths took: oneDNN for every convolution.
    public static func unrecorded(_ spec: NetSpec) -> [ConvolutionPath] {
        Array(repeating: .onednn, count: spec.layers.filter { if case .convolution = $0 { true } else { false } }.count)
    }

    /// Why Winograd F(4×4, 5×5) cannot compute this convolution here, or nil when it can.
    public static func winogradRefusal(input: Shape, kernel: Int, stride: Int) -> String? {
        guard kernel == 5, stride == 1 else { return "Winograd F(4×4, 5×5): the kernel is \(kernel)×\(kernel)/\(stride)" }
        let (ho, wo) = (input.height - 4, input.width - 4)
        guard ho % 4 == 0, wo % 4 == 0 else { return "Winograd F(4×4, 5×5): output \(ho)×\(wo) is not made of 4×4 tiles" }
        guard easgd_winograd_cpu_supported() != 0 else { return "Winograd: this CPU has no AVX2 and FMA" }
        return nil
    }

    /// oneDNN's version ("2.6.3").
    public static var oneDNNVersion: String { String(cString: easgd_dnnl_version()) }
}

/// A layer's oneDNN (or Winograd) convolutions by batch size and thread count (a oneDNN primitive's split of the
/// work, and so the order of its sums, is fixed for the thread count it was made for; Winograd's passes 0): the
/// training batch and at most one other (an evaluation's last, partial batch), so a network never holds more than
/// two sets of working tensors per layer.
private final class KernelHandles {
    private var entries: [(batch: Int, threads: Int, handle: OpaquePointer)] = []
    private let destroy: (OpaquePointer) -> Void

    init(destroy: @escaping (OpaquePointer) -> Void) { self.destroy = destroy }

    var current: OpaquePointer? { entries.last?.handle }

    func handle(batch: Int, threads: Int) -> OpaquePointer? {
        guard let k = entries.firstIndex(where: { $0.batch == batch && $0.threads == threads }) else { return nil }
        if k != entries.count - 1 { entries.append(entries.remove(at: k)) }
        return entries[entries.count - 1].handle
    }

    func insert(_ handle: OpaquePointer, batch: Int, threads: Int) {
        if entries.count == 2 { destroy(entries.removeFirst().handle) }
        entries.append((batch, threads, handle))
    }

    /// The convolutions go with the layer.
    deinit { for entry in entries { destroy(entry.handle) } }
}

private func text(_ message: [CChar]) -> String {
    String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

@inline(__always)
private func floats<Scalar>(_ p: UnsafePointer<Scalar>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inline(__always)
private func floats<Scalar>(_ p: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

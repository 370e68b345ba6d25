// The oneDNN and Winograd convolution paths (Float) against the im2col path in Double, which LayerGradientTests
// checks against central finite differences and a direct six-loop convolution. Forward output, dL/dW, dL/db and
// dL/dx are compared for strides 1 and 2, channel counts that are not multiples of oneDNN's 16-wide blocks, the
// paper's CIFAR shapes, and batch sizes that change between calls. Stated tolerances: every entry within 2e-5 of
// the largest magnitude of its tensor on oneDNN (Float accumulation over K = Ci·k·k ≤ 1,600 products, ~1e-6
// expected); within 1e-4 on Winograd (its transforms' rounding: measured ~7e-6 for y, ~1.5e-5 for dL/dW at the
// paper's second layer).
import Elastic
import NumericTesting
import Testing
@testable import Training

private struct ConvolutionResult {
    var y: [Double], dW: [Double], dx: [Double]
}

private func run<Scalar: NetworkScalar>(_ layer: Convolution<Scalar>, batch: Int, x: [Double], theta: [Double],
                                        dy: [Double], inputGradient: Bool) -> ConvolutionResult {
    let xs = x.map { Scalar($0) }, ts = theta.map { Scalar($0) }, dys = dy.map { Scalar($0) }
    var y = [Scalar](repeating: 0, count: batch * layer.outputShape.count)
    var dx = [Scalar](repeating: 0, count: batch * layer.inputShape.count)
    var g = [Scalar](repeating: .nan, count: layer.parameterCount)
    var rng = SplitMix64(seed: 1)
    xs.withUnsafeBufferPointer { xp in ts.withUnsafeBufferPointer { tp in dys.withUnsafeBufferPointer { dp in
        y.withUnsafeMutableBufferPointer { yp in dx.withUnsafeMutableBufferPointer { dxp in g.withUnsafeMutableBufferPointer { gp in
            layer.forward(xp.baseAddress!, yp.baseAddress!, batch: batch, parameters: tp.baseAddress!, training: true, rng: &rng)
            layer.backward(xp.baseAddress!, UnsafePointer(yp.baseAddress!), dp.baseAddress!,
                           inputGradient ? dxp.baseAddress! : nil, batch: batch, parameters: tp.baseAddress!,
                           gradient: gp.baseAddress!)
        } } }
    } } }
    return ConvolutionResult(y: y.map { Double($0) }, dW: g.map { Double($0) }, dx: dx.map { Double($0) })
}

/// `layer` and a Double im2col layer of its shape on the same 2 random images, parameters (standard normal) and
/// output gradient.
private func againstTheDoubleReference(_ layer: Convolution<Float>, seed: UInt64, inputGradient: Bool)
    -> (got: ConvolutionResult, want: ConvolutionResult) {
    let reference = Convolution<Double>(input: layer.inputShape, outputChannels: layer.outputShape.channels,
                                        kernel: layer.kernel, stride: layer.stride)
    var rng = SplitMix64(seed: seed)
    let x = (0..<(2 * layer.inputShape.count)).map { _ in rng.nextGaussian() }
    let theta = (0..<layer.parameterCount).map { _ in rng.nextGaussian() }
    let dy = (0..<(2 * layer.outputShape.count)).map { _ in rng.nextGaussian() }
    return (run(layer, batch: 2, x: x, theta: theta, dy: dy, inputGradient: inputGradient),
            run(reference, batch: 2, x: x, theta: theta, dy: dy, inputGradient: inputGradient))
}

private func expectClose(_ got: [Double], _ reference: [Double], _ what: String, tolerance: Double = 2e-5) {
    #expect(got.count == reference.count)
    let scale = reference.map(abs).max() ?? 0
    var worst = 0.0
    for (a, b) in zip(got, reference) { worst = max(worst, a.isFinite ? abs(a - b) : .infinity) }
    #expect(worst <= tolerance * scale, "\(what): largest difference \(worst) against a largest entry of \(scale)")
}

@Test(arguments: [
    (Shape(channels: 3, height: 28, width: 28), 64, 5, 1),     // the paper's first layer
    (Shape(channels: 64, height: 12, width: 12), 128, 5, 1),   // its second
    (Shape(channels: 128, height: 4, width: 4), 64, 3, 1),     // its third
    (Shape(channels: 2, height: 9, width: 9), 3, 3, 2),        // stride 2, channels far from a block of 16
    (Shape(channels: 5, height: 11, width: 10), 7, 4, 3),      // non-square image, stride 3
])
func oneDNNConvolutionMatchesTheDoubleReference(input: Shape, outputs: Int, kernel: Int, stride: Int) throws {
    let fast = Convolution<Float>(input: input, outputChannels: outputs, kernel: kernel, stride: stride)
    let reference = Convolution<Double>(input: input, outputChannels: outputs, kernel: kernel, stride: stride)
    fast.path = .onednn
    #expect(reference.path == .im2col)
    var rng = SplitMix64(seed: UInt64(outputs * 31 + kernel))
    // Batch sizes change between calls (training, then an evaluation's partial batch, then a third size that
    // evicts the first), and every call is checked.
    for batch in [4, 3, 4, 1] {
        let x = (0..<(batch * input.count)).map { _ in rng.nextGaussian() }
        let theta = (0..<fast.parameterCount).map { _ in 0.3 * rng.nextGaussian() }
        let dy = (0..<(batch * fast.outputShape.count)).map { _ in rng.nextGaussian() }
        let got = run(fast, batch: batch, x: x, theta: theta, dy: dy, inputGradient: true)
        let want = run(reference, batch: batch, x: x, theta: theta, dy: dy, inputGradient: true)
        let label = "\(input.channels)×\(input.height)×\(input.width) → \(outputs), \(kernel)×\(kernel)/\(stride), batch \(batch)"
        expectClose(got.y, want.y, "\(label): y")
        expectClose(Array(got.dW[0..<fast.weightCount]), Array(want.dW[0..<fast.weightCount]), "\(label): dL/dW")
        expectClose(Array(got.dW[fast.weightCount...]), Array(want.dW[fast.weightCount...]), "\(label): dL/db")
        expectClose(got.dx, want.dx, "\(label): dL/dx")
        #expect(fast.path == .onednn, "\(label): fell back to im2col: \(fast.fallbackReason ?? "")")
    }
}

@Test(arguments: [
    (Shape(channels: 64, height: 12, width: 12), 128),   // the paper's second layer
    (Shape(channels: 16, height: 8, width: 8), 8),       // one tile per image
    (Shape(channels: 3, height: 16, width: 20), 5),      // non-square, 3 × 4 tiles, few channels (forced)
])
func winogradConvolutionMatchesTheDoubleReference(input: Shape, outputs: Int) throws {
    let fast = Convolution<Float>(input: input, outputChannels: outputs, kernel: 5, stride: 1)
    let reference = Convolution<Double>(input: input, outputChannels: outputs, kernel: 5, stride: 1)
    fast.path = .winograd
    var rng = SplitMix64(seed: UInt64(outputs * 17 + input.channels))
    for batch in [4, 3, 4, 1] {
        let x = (0..<(batch * input.count)).map { _ in rng.nextGaussian() }
        // He-scaled weights and a bias, as in training: the error is relative to the output's scale.
        let fanIn = Double(input.channels * 25)
        let theta = (0..<fast.parameterCount).map { k in
            k < fast.weightCount ? (2 / fanIn).squareRoot() * rng.nextGaussian() : 0.1 * rng.nextGaussian()
        }
        let dy = (0..<(batch * fast.outputShape.count)).map { _ in rng.nextGaussian() }
        let got = run(fast, batch: batch, x: x, theta: theta, dy: dy, inputGradient: true)
        let want = run(reference, batch: batch, x: x, theta: theta, dy: dy, inputGradient: true)
        let label = "\(input) → \(outputs), batch \(batch)"
        expectClose(got.y, want.y, "\(label): y", tolerance: 1e-4)
        expectClose(Array(got.dW[0..<fast.weightCount]), Array(want.dW[0..<fast.weightCount]), "\(label): dL/dW",
                    tolerance: 1e-4)
        expectClose(Array(got.dW[fast.weightCount...]), Array(want.dW[fast.weightCount...]), "\(label): dL/db",
                    tolerance: 1e-4)
        expectClose(got.dx, want.dx, "\(label): dL/dx", tolerance: 1e-4)
        #expect(fast.path == .winograd, "\(label): fell back: \(fast.fallbackReason ?? "")")
    }
}

/// Winograd's results do not depend on the thread count (each of its 64 products runs on one thread; no sum
/// crosses threads; the threads claim runs of items as they go, so which thread does which item varies from call
/// to call): the same bits on 1, 2 and 3 threads, forward and backward.
@Test func winogradGivesTheSameBitsOnOneAndTwoThreads() throws {
    let input = Shape(channels: 64, height: 12, width: 12)
    var rng = SplitMix64(seed: 3)
    let x = (0..<(6 * input.count)).map { _ in rng.nextGaussian() }
    let theta = (0..<(128 * 64 * 25 + 128)).map { _ in 0.05 * rng.nextGaussian() }
    let dy = (0..<(6 * 128 * 64)).map { _ in rng.nextGaussian() }
    func result(threads: Int) -> ConvolutionResult {
        ComputeThreads.set(threads)
        defer { ComputeThreads.set(1) }
        let conv = Convolution<Float>(input: input, outputChannels: 128, kernel: 5, stride: 1)
        conv.path = .winograd
        return run(conv, batch: 6, x: x, theta: theta, dy: dy, inputGradient: true)
    }
    let one = result(threads: 1)
    for other in [result(threads: 2), result(threads: 3), result(threads: 2)] {
        #expect(one.y == other.y)
        #expect(one.dW == other.dW)
        #expect(one.dx == other.dx)
    }
}

/// Asked of a shape it cannot compute, Winograd falls back to oneDNN and says why; the default choice takes it
/// exactly where it fits and pays (the paper's second layer, not its first or third).
@Test func winogradFallsBackWhereItDoesNotFitAndIsChosenWhereItPays() throws {
    let cases = [(Shape(channels: 16, height: 10, width: 10), 5, "output 6×6 is not made of 4×4 tiles"),
                 (Shape(channels: 16, height: 6, width: 6), 3, "the kernel is 3×3/1")]
    for (input, kernel, reason) in cases {
        let conv = Convolution<Float>(input: input, outputChannels: 4, kernel: kernel, stride: 1)
        conv.path = .winograd
        let (got, want) = againstTheDoubleReference(conv, seed: 1, inputGradient: true)
        #expect(conv.path == .onednn)
        #expect(conv.fallbackReason?.contains(reason) == true, "\(conv.fallbackReason ?? "no reason")")
        expectClose(got.y, want.y, "\(input) \(kernel)×\(kernel): y after the fallback")
        expectClose(got.dx, want.dx, "\(input) \(kernel)×\(kernel): dL/dx after the fallback")
    }
    try #require(ConvolutionPath.forced == nil, "EASGD_CONVOLUTION is set: the default choice is not under test")
    let net = try Network<Float>("(3,28)C(64,24)P(64,12)C(128,8)P(128,4)C(64,2)D(256,1)S(10,1)", maxBatch: 2)
    #expect(net.layers.compactMap { ($0 as? Convolution<Float>)?.path } == [.onednn, .winograd, .onednn])
}

@Test func aFirstLayerBuildsNoInputGradientAndItsWeightsGradientIsRight() throws {
    let input = Shape(channels: 3, height: 12, width: 12)
    let fast = Convolution<Float>(input: input, outputChannels: 16, kernel: 5, stride: 1)
    fast.computesInputGradient = false
    try #require(fast.path == .onednn)
    let (got, want) = againstTheDoubleReference(fast, seed: 5, inputGradient: false)
    expectClose(got.y, want.y, "y")
    expectClose(got.dW, want.dW, "dL/dθ")
    #expect(fast.implementation.hasSuffix("bwd-data none"), "\(fast.implementation)")
}

/// The whole paper's CIFAR net in Float, every convolution on oneDNN (or its second on Winograd, as by default),
/// against the same net with its convolutions forced to im2col (Float, OpenBLAS): loss and gradient agree to Float
/// precision (relative 1e-4 of each layer's largest gradient entry: the paths sum in different orders through
/// seven layers).
@Test(arguments: [[ConvolutionPath.onednn, .onednn, .onednn], [.onednn, .winograd, .onednn]])
func aNetworkOnOneDNNHasTheGradientOfTheIm2colNetwork(paths: [ConvolutionPath]) throws {
    let spec = "(3,28)C(64,24)P(64,12)C(128,8)P(128,4)C(64,2)D(256,1)S(10,1)"
    let fast = try Network<Float>(spec, maxBatch: 6), slow = try Network<Float>(spec, maxBatch: 6)
    for case let conv as Convolution<Float> in slow.layers { conv.path = .im2col }
    for (conv, path) in zip(fast.layers.compactMap { $0 as? Convolution<Float> }, paths) { conv.path = path }
    let theta = FlatBuffer<Float>(count: fast.parameterCount)
    fast.initialize(theta, seed: 2)
    var rng = SplitMix64(seed: 8)
    let input = (0..<(6 * 3 * 28 * 28)).map { _ in Float(rng.nextGaussian()) }
    let labels: [Int32] = [0, 9, 3, 3, 5, 1]
    func lossAndGradient(_ net: Network<Float>) -> (Double, [Float]) {
        let g = FlatBuffer<Float>(count: net.parameterCount)
        var drop = SplitMix64(seed: 4)
        let loss = labels.withUnsafeBufferPointer {
            net.lossAndGradient(parameters: theta.readOnly, input: input, labels: $0, batch: 6, gradient: g.pointer, rng: &drop)
        }
        return (loss, g.array)
    }
    let (l1, g1) = lossAndGradient(fast), (l2, g2) = lossAndGradient(slow)
    #expect(isClose(l1, l2, relative: 1e-5), "loss \(l1) vs \(l2)")
    for layer in fast.layers where layer.parameterCount > 0 {
        let range = layer.parameterOffset..<(layer.parameterOffset + layer.parameterCount)
        let scale = Double(g2[range].map(abs).max()!)
        let worst = zip(g1[range], g2[range]).map { Double(abs($0 - $1)) }.max()!
        #expect(worst <= 1e-4 * scale, "\(layer.kind): largest difference \(worst), largest entry \(scale)")
    }
    #expect(fast.layers.compactMap { ($0 as? Convolution<Float>)?.path } == paths)
}

/// Resumed runs must give the bits of straight ones: a network's gradient is a function of its inputs alone, the
/// same on a fresh network (new buffers, new primitives), after calls at other batch sizes (which build and evict
/// oneDNN primitives), and on a network with a larger maximum batch.
@Test(arguments: [1, 2], ["(3,28)C(64,24)P(64,12)C(128,8)P(128,4)C(64,2)D(256,1)S(10,1)", "(1,28)C(8,24)P(8,12)D(64,1)S(10,1)"])
func aOneDNNNetworkGradientIsTheSameBitsOnEveryCall(threads: Int, spec: String) throws {
    ComputeThreads.set(threads)
    defer { ComputeThreads.set(1) }
    var rng = SplitMix64(seed: 8)
    let channels = spec.hasPrefix("(3") ? 3 : 1
    let input = (0..<(8 * channels * 28 * 28)).map { _ in Float(rng.nextGaussian()) }
    let labels: [Int32] = [0, 9, 3, 3, 5, 1, 2, 7]
    let reference = try Network<Float>(spec, maxBatch: 8)
    let theta = FlatBuffer<Float>(count: reference.parameterCount)
    reference.initialize(theta, seed: 2)
    func gradient(_ net: Network<Float>, batch: Int = 8) -> [UInt32] {
        let g = FlatBuffer<Float>(count: net.parameterCount)
        var drop = SplitMix64(seed: 4)
        _ = labels.withUnsafeBufferPointer {
            net.lossAndGradient(parameters: theta.readOnly, input: input, labels: $0, batch: batch, gradient: g.pointer, rng: &drop)
        }
        return g.array.map(\.bitPattern)
    }
    /// Where two gradients first differ: the layer and the index, or nil.
    func difference(_ a: [UInt32], _ b: [UInt32]) -> String? {
        guard let k = a.indices.first(where: { a[$0] != b[$0] }) else { return nil }
        let layer = reference.layers.last { $0.parameterCount > 0 && $0.parameterOffset <= k }!
        return "first difference at parameter \(k) (\(layer.kind) at offset \(layer.parameterOffset)): "
            + "\(Float(bitPattern: a[k])) vs \(Float(bitPattern: b[k]))"
    }
    let first = gradient(reference)
    #expect(difference(gradient(reference), first) == nil, "a second call")
    _ = gradient(reference, batch: 3)
    _ = gradient(reference, batch: 5)     // evicts the batch-8 primitives
    #expect(difference(gradient(reference), first) == nil, "after other batch sizes")
    #expect(difference(gradient(try Network<Float>(spec, maxBatch: 8)), first) == nil, "a fresh network")
    #expect(difference(gradient(try Network<Float>(spec, maxBatch: 13)), first) == nil, "a larger maximum batch")
}

/// A network built to evaluate only (the test-set evaluators) builds no backward pass, and its forward pass gives
/// the bits of a training network's.
@Test func anEvaluateOnlyNetworkHasTheForwardBitsAndNoBackwardPass() throws {
    let spec = "(3,28)C(64,24)P(64,12)C(128,8)P(128,4)C(64,2)D(256,1)S(10,1)"
    let full = try Network<Float>(spec, maxBatch: 5)
    let evaluating = Network<Float>(spec: full.spec, maxBatch: 5, computesGradients: false)
    let theta = FlatBuffer<Float>(count: full.parameterCount)
    full.initialize(theta, seed: 6)
    var rng = SplitMix64(seed: 2)
    let input = (0..<(5 * 3 * 28 * 28)).map { _ in Float(rng.nextGaussian()) }
    func logits(_ net: Network<Float>) -> [UInt32] {
        var unused = SplitMix64(seed: 0)
        let out = input.withUnsafeBufferPointer {
            net.forward(parameters: theta.readOnly, input: $0.baseAddress!, batch: 5, training: false, rng: &unused)
        }
        return (0..<(5 * 10)).map { out[$0].bitPattern }
    }
    #expect(logits(evaluating) == logits(full))
    for case let conv as Convolution<Float> in evaluating.layers where conv.path != .winograd {
        #expect(conv.path == .onednn && conv.implementation.contains("bwd-weights none, bwd-data none"), "\(conv.implementation)")
    }
}

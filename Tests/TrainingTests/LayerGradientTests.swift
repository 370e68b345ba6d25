// Every layer's backward pass against central finite differences of its forward pass, in Double,
// and a whole small network's gradient too. Stated tolerance: relative 1e-6 (h = 1e-5, Double).
// Convolution's forward is also checked against a direct (six-loop) convolution.
import Elastic
import NumericTesting
import Testing
@testable import Training

/// L(θ, x) = Σ_k r_k · y_k(θ, x) for a fixed random r; backward with dy = r gives dL/dθ and dL/dx.
func checkLayer(_ layer: any Layer<Double>, batch: Int, seed: UInt64, dropoutSeed: UInt64 = 1,
                sampleLimit: Int = 400) {
    var rng = SplitMix64(seed: seed)
    let inCount = batch * layer.inputShape.count
    let outCount = batch * layer.outputShape.count
    var x = (0..<inCount).map { _ in rng.nextGaussian() }
    var theta = (0..<layer.parameterCount).map { _ in 0.5 * rng.nextGaussian() }
    let r = (0..<outCount).map { _ in rng.nextGaussian() }

    func loss(_ x: [Double], _ theta: [Double]) -> Double {
        var y = [Double](repeating: 0, count: outCount)
        var drop = SplitMix64(seed: dropoutSeed)
        x.withUnsafeBufferPointer { xp in theta.withUnsafeBufferPointer { tp in y.withUnsafeMutableBufferPointer { yp in
            layer.forward(xp.baseAddress!, yp.baseAddress!, batch: batch, parameters: tp.baseAddress ?? UnsafePointer(yp.baseAddress!),
                          training: true, rng: &drop)
        } } }
        return zip(y, r).reduce(0) { $0 + $1.0 * $1.1 }
    }

    // Analytic.
    var y = [Double](repeating: 0, count: outCount)
    var dx = [Double](repeating: 0, count: inCount)
    var dTheta = [Double](repeating: 0, count: max(layer.parameterCount, 1))
    var drop = SplitMix64(seed: dropoutSeed)
    x.withUnsafeBufferPointer { xp in theta.withUnsafeBufferPointer { tp in y.withUnsafeMutableBufferPointer { yp in
        r.withUnsafeBufferPointer { rp in dx.withUnsafeMutableBufferPointer { dxp in dTheta.withUnsafeMutableBufferPointer { gp in
            let params = tp.baseAddress ?? UnsafePointer(gp.baseAddress!)
            layer.forward(xp.baseAddress!, yp.baseAddress!, batch: batch, parameters: params, training: true, rng: &drop)
            layer.backward(xp.baseAddress!, UnsafePointer(yp.baseAddress!), rp.baseAddress!, dxp.baseAddress!, batch: batch,
                           parameters: params, gradient: gp.baseAddress!)
        } } }
    } } }

    let h = 1e-5
    let xStride = max(1, inCount / sampleLimit)
    for k in stride(from: 0, to: inCount, by: xStride) {
        let saved = x[k]
        x[k] = saved + h; let plus = loss(x, theta)
        x[k] = saved - h; let minus = loss(x, theta)
        x[k] = saved
        let numeric = (plus - minus) / (2 * h)
        #expect(isClose(dx[k], numeric, relative: 1e-6, absolute: 1e-8), "\(layer.kind) dL/dx[\(k)]: \(dx[k]) vs \(numeric)")
    }
    let tStride = max(1, layer.parameterCount / sampleLimit)
    for k in stride(from: 0, to: layer.parameterCount, by: tStride) {
        let saved = theta[k]
        theta[k] = saved + h; let plus = loss(x, theta)
        theta[k] = saved - h; let minus = loss(x, theta)
        theta[k] = saved
        let numeric = (plus - minus) / (2 * h)
        #expect(isClose(dTheta[k], numeric, relative: 1e-6, absolute: 1e-8), "\(layer.kind) dL/dθ[\(k)]: \(dTheta[k]) vs \(numeric)")
    }
}

@Test(arguments: [(5, 1), (3, 2), (2, 1), (4, 3)])
func convolutionGradientMatchesFiniteDifferences(kernel: Int, stride: Int) {
    let layer = Convolution<Double>(input: Shape(channels: 2, height: 9, width: 9), outputChannels: 3,
                                    kernel: kernel, stride: stride)
    checkLayer(layer, batch: 3, seed: UInt64(10 * kernel + stride))
}

@Test func convolutionForwardMatchesDirectConvolution() {
    let layer = Convolution<Double>(input: Shape(channels: 3, height: 8, width: 8), outputChannels: 4, kernel: 3, stride: 2)
    var rng = SplitMix64(seed: 3)
    let batch = 2
    let x = (0..<(batch * 3 * 64)).map { _ in rng.nextGaussian() }
    let theta = (0..<layer.parameterCount).map { _ in rng.nextGaussian() }
    var y = [Double](repeating: 0, count: batch * layer.outputShape.count)
    var unused = SplitMix64(seed: 0)
    layer.forward(x, &y, batch: batch, parameters: theta, training: false, rng: &unused)
    let (ho, wo) = (layer.outputShape.height, layer.outputShape.width)
    #expect(ho == 3 && wo == 3)
    for n in 0..<batch { for o in 0..<4 { for oy in 0..<ho { for ox in 0..<wo {
        var s = theta[4 * 27 + o]
        for c in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
            s += theta[((o * 3 + c) * 3 + ky) * 3 + kx] * x[((n * 3 + c) * 8 + oy * 2 + ky) * 8 + ox * 2 + kx]
        } } }
        let got = y[((n * 4 + o) * ho + oy) * wo + ox]
        #expect(isClose(got, s, relative: 1e-13, absolute: 1e-13))
    } } } }
}

@Test(arguments: [(2, 2), (3, 3), (3, 2)])
func maxPoolingGradientMatchesFiniteDifferences(window: Int, stride: Int) {
    checkLayer(MaxPooling<Double>(input: Shape(channels: 3, height: 7, width: 7), window: window, stride: stride),
               batch: 2, seed: UInt64(window * 7 + stride))
}

@Test func reluGradientMatchesFiniteDifferences() {
    checkLayer(ReLU<Double>(input: Shape(channels: 4, height: 3, width: 3)), batch: 3, seed: 21)
}

@Test func fullyConnectedGradientMatchesFiniteDifferences() {
    checkLayer(FullyConnected<Double>(input: Shape(channels: 3, height: 2, width: 2), outputs: 5), batch: 4, seed: 22)
}

@Test func dropoutGradientMatchesFiniteDifferencesAndScales() {
    let layer = Dropout<Double>(input: Shape(channels: 50, height: 1, width: 1), rate: 0.5)
    checkLayer(layer, batch: 4, seed: 23)
    // Inverted scaling: kept units are doubled, the rest zeroed; about half are kept; evaluation is the identity.
    let x = [Double](repeating: 1, count: 200)
    var y = [Double](repeating: 0, count: 200)
    var rng = SplitMix64(seed: 5)
    layer.forward(x, &y, batch: 4, parameters: x, training: true, rng: &rng)
    #expect(y.allSatisfy { $0 == 0 || $0 == 2 })
    let kept = y.filter { $0 == 2 }.count
    #expect(kept > 70 && kept < 130)
    layer.forward(x, &y, batch: 4, parameters: x, training: false, rng: &rng)
    #expect(y == x)
}

/// The whole network: mean cross-entropy of a batch, gradient against finite differences for every parameter.
@Test func wholeNetworkGradientMatchesFiniteDifferences() throws {
    let net = try Network<Double>("(2,10)C(3,8)P(3,4)C(4,2)D(6,1)S(3,1)", maxBatch: 4)
    let theta = FlatBuffer<Double>(count: net.parameterCount)
    net.initialize(theta, seed: 9)
    var rng = SplitMix64(seed: 11)
    for k in 0..<theta.count { theta[k] += 0.05 * rng.nextGaussian() }   // non-zero biases too
    let input = (0..<(4 * 200)).map { _ in rng.nextGaussian() }
    let labels: [Int32] = [0, 2, 1, 2]
    let gradient = FlatBuffer<Double>(count: net.parameterCount)
    func loss() -> Double {
        var drop = SplitMix64(seed: 77)
        let g = FlatBuffer<Double>(count: net.parameterCount)
        return labels.withUnsafeBufferPointer {
            net.lossAndGradient(parameters: theta.readOnly, input: input, labels: $0, batch: 4, gradient: g.pointer, rng: &drop)
        }
    }
    var drop = SplitMix64(seed: 77)
    _ = labels.withUnsafeBufferPointer {
        net.lossAndGradient(parameters: theta.readOnly, input: input, labels: $0, batch: 4, gradient: gradient.pointer, rng: &drop)
    }
    let h = 1e-5
    var checked = 0
    for k in 0..<theta.count {
        let saved = theta[k]
        theta[k] = saved + h; let plus = loss()
        theta[k] = saved - h; let minus = loss()
        theta[k] = saved
        let numeric = (plus - minus) / (2 * h)
        #expect(isClose(gradient[k], numeric, relative: 1e-6, absolute: 1e-9), "θ[\(k)]: \(gradient[k]) vs \(numeric)")
        checked += 1
    }
    #expect(checked == net.parameterCount)
    #expect(net.parameterCount == (3 * 2 * 9 + 3) + (4 * 3 * 9 + 4) + (16 * 6 + 6) + (6 * 3 + 3))
}

/// The Float network (what training runs) agrees with the Double network on the same parameters.
@Test func floatNetworkAgreesWithDouble() throws {
    let spec = "(1,12)C(4,8)P(4,4)D(8,1)S(5,1)"
    let nd = try Network<Double>(spec, maxBatch: 3)
    let nf = try Network<Float>(spec, maxBatch: 3)
    let td = FlatBuffer<Double>(count: nd.parameterCount)
    nd.initialize(td, seed: 4)
    let tf = FlatBuffer<Float>(count: nf.parameterCount)
    for k in 0..<td.count { tf[k] = Float(td[k]) ; td[k] = Double(tf[k]) }
    var rng = SplitMix64(seed: 8)
    let xd = (0..<(3 * 144)).map { _ in Double(Float(rng.nextGaussian())) }
    let xf = xd.map { Float($0) }
    let labels: [Int32] = [4, 0, 2]
    let gd = FlatBuffer<Double>(count: nd.parameterCount)
    let gf = FlatBuffer<Float>(count: nf.parameterCount)
    var r1 = SplitMix64(seed: 1), r2 = SplitMix64(seed: 1)
    let ld = labels.withUnsafeBufferPointer { nd.lossAndGradient(parameters: td.readOnly, input: xd, labels: $0, batch: 3, gradient: gd.pointer, rng: &r1) }
    let lf = labels.withUnsafeBufferPointer { nf.lossAndGradient(parameters: tf.readOnly, input: xf, labels: $0, batch: 3, gradient: gf.pointer, rng: &r2) }
    #expect(isClose(ld, lf, relative: 1e-5))
    let scale = gd.array.map(abs).max()!
    for k in 0..<gd.count { #expect(isClose(gd[k], Double(gf[k]), relative: 1e-4, absolute: 1e-5 * scale)) }
}

/// A network runs conv → ReLU → max pool as conv → max pool → ReLU, and on oneDNN the convolution carries the pooling
/// and the rectifier (its pooled form reads and writes oneDNN's blocked tensors): the same numbers, forward and
/// backward. Checked against the three layers run by hand in the written order, and in the swapped order as separate
/// layers, bitwise, with ties in the windows (inputs on a coarse grid) and whole windows of negative pre-activations
/// (a negative bias); as a first layer (no dx, as the CIFAR net's) and an inner one; with 16 channels (oneDNN's
/// pooled form runs) and 3 (no blocked layout: the layer runs its own pooling and rectifier); on im2col (the same
/// layer off oneDNN); and replaying a recorded pattern at another input. Not on Winograd's path: its transforms
/// round (1/9, 1/90, …), so the exact ties this test needs would not be ties; ConvolutionPathTests runs whole
/// networks on it.
@Test(arguments: [(ConvolutionPath.onednn, 16, true), (.onednn, 16, false), (.onednn, 3, true), (.im2col, 16, true)])
func poolingAndTheRectifierGiveTheWrittenOrdersNumbers(path: ConvolutionPath, channels: Int, inputGradient: Bool) throws {
    let spec = try NetSpec(parsing: "(2,9)C(\(channels),6)P(\(channels),3)D(4,1)S(2,1)")
    let built = Network<Float>.layers(spec)
    #expect(built.prefix(2).map(\.kind) == ["conv 4×4/1 + max pool 2×2/2 + ReLU", "fully connected"])
    let n = 5
    let carrier = built[0] as! Convolution<Float>
    let conv = Convolution<Float>(input: carrier.inputShape, outputChannels: channels, kernel: carrier.kernel, stride: 1)
    let relu = ReLU<Float>(input: conv.outputShape), relu2 = ReLU<Float>(input: carrier.outputShape)
    let pool = MaxPooling<Float>(input: conv.outputShape, window: 2, stride: 2)
    let pool2 = MaxPooling<Float>(input: conv.outputShape, window: 2, stride: 2)
    #expect(carrier.outputShape == pool.outputShape && carrier.convolutionShape == conv.outputShape)
    for c in [conv, carrier] {
        c.path = path
        c.computesInputGradient = inputGradient
    }
    var rng = SplitMix64(seed: 5)
    // Weights and inputs on a grid of quarters: the products are exact in Float, so ties in a window are ties.
    let theta = (0..<conv.parameterCount).map { k in k < conv.weightCount ? Float((rng.next() % 5)) / 4 - 0.5 : -0.25 }
    let x = (0..<(n * conv.inputShape.count)).map { _ in Float(rng.next() % 3) / 4 }
    let moved = x.map { $0 + Float(rng.next() % 3) / 4 - 0.25 }     // where a recorded pattern is replayed
    let dyPooled = (0..<(n * pool.outputShape.count)).map { _ in Float(rng.nextGaussian()) }
    func run(_ layers: [any Layer<Float>], at x: [Float]) -> (acts: [[Float]], dx: [Float], dTheta: [Float]) {
        var acts = [x]
        var unused = SplitMix64(seed: 0)
        for layer in layers {
            var y = [Float](repeating: 0, count: n * layer.outputShape.count)
            layer.forward(acts.last!, &y, batch: n, parameters: theta, training: true, rng: &unused)
            acts.append(y)
        }
        var dy = dyPooled
        var dTheta = [Float](repeating: .nan, count: conv.parameterCount)
        for (i, layer) in layers.enumerated().reversed() {
            var dx = [Float](repeating: .nan, count: n * layer.inputShape.count)
            // Only the convolution writes a gradient; the parameter-free layers leave dTheta alone.
            if i == 0 && !inputGradient {
                layer.backward(acts[i], acts[i + 1], dy, nil, batch: n, parameters: theta, gradient: &dTheta)
                dx = []
            } else {
                layer.backward(acts[i], acts[i + 1], dy, &dx, batch: n, parameters: theta, gradient: &dTheta)
            }
            dy = dx
        }
        return (acts, dy, dTheta)
    }
    let written = run([conv, relu, pool], at: x)
    let swapped = run([conv, pool2, relu2], at: x)
    let carried = run([carrier], at: x)
    #expect(carrier.pooledOnDNNL == (path == .onednn && channels == 16))
    for other in [swapped, carried] {
        #expect(written.acts.last! == other.acts.last!)
        #expect(written.dx == other.dx)
        #expect(written.dTheta == other.dTheta)
    }
    #expect(written.dTheta.allSatisfy(\.isFinite) && written.dx.allSatisfy(\.isFinite))
    // The cases the argument is about occur: windows whose maximum is not positive, and windows whose positive
    // maximum is tied (read off the pre-activations, the convolution's output).
    let (h, w) = (conv.outputShape.height, conv.outputShape.width)
    let maxima = (0..<(n * conv.outputShape.channels)).flatMap { plane in
        (0..<(h / 2 * (w / 2))).map { o in
            let (oy, ox) = (o / (w / 2), o % (w / 2))
            let window = [0, 1, w, w + 1].map { written.acts[1][plane * h * w + 2 * oy * w + 2 * ox + $0] }
            return (max: window.max()!, ties: window.filter { $0 == window.max()! }.count)
        }
    }
    #expect(maxima.contains { $0.max <= 0 })
    #expect(maxima.contains { $0.max > 0 && $0.ties > 1 })

    // Record the branches at x, replay them at another input: the carried layer against the written order.
    for (layer, pattern) in [(relu, ActivationPattern.record), (pool, .record)] as [(any Layer<Float>, ActivationPattern)] {
        (layer as? ReLU<Float>)?.pattern = pattern
        (layer as? MaxPooling<Float>)?.pattern = pattern
    }
    carrier.pattern = .record
    _ = run([conv, relu, pool], at: x)
    _ = run([carrier], at: x)
    relu.pattern = .replay
    pool.pattern = .replay
    carrier.pattern = .replay
    let replayedWritten = run([conv, relu, pool], at: moved)
    let replayedCarried = run([carrier], at: moved)
    #expect(replayedWritten.acts.last! == replayedCarried.acts.last!)
    #expect(replayedWritten.dx == replayedCarried.dx)
    #expect(replayedWritten.dTheta == replayedCarried.dTheta)
    // The replay is not the live pass at the moved input (else it would test nothing new).
    let live = run([conv, ReLU<Float>(input: conv.outputShape), MaxPooling<Float>(input: conv.outputShape, window: 2, stride: 2)],
                   at: moved)
    #expect(live.acts.last! != replayedWritten.acts.last!)
}

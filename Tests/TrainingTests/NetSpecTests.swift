// The paper's notation: kernel/stride rules, parameter counts counted by hand, errors for bad strings,
// and the ImageNet net running one forward/backward step on synthetic input.
import Elastic
import NumericTesting
import Testing
@testable import Training

@Test func cifarNetFollowsThePaper() throws {
    let spec = try NetSpec(parsing: "cifar")
    #expect(spec.input == Shape(channels: 3, height: 28, width: 28))
    #expect(spec.layers == [
        .convolution(channels: 64, size: 24, kernel: 5, stride: 1), .pooling(channels: 64, size: 12, window: 2),
        .convolution(channels: 128, size: 8, kernel: 5, stride: 1), .pooling(channels: 128, size: 4, window: 2),
        .convolution(channels: 64, size: 2, kernel: 3, stride: 1), .dense(units: 256), .softmax(classes: 10),
    ])
    let net = Network<Float>(spec: spec, maxBatch: 1)
    // conv 5×5 3→64, conv 5×5 64→128, conv 3×3 128→64, FC 256→256, FC 256→10, each with biases.
    let byHand = (64 * 3 * 25 + 64) + (128 * 64 * 25 + 128) + (64 * 128 * 9 + 64) + (256 * 256 + 256) + (256 * 10 + 10)
    #expect(net.parameterCount == byHand)
    // Forward multiply-adds: 64·75·24² + 128·1600·8² + 64·1152·2² + 256·256 + 256·10.
    let macs = 64 * 75 * 576 + 128 * 1600 * 64 + 64 * 1152 * 4 + 256 * 256 + 2560
    #expect(net.forwardFlopsPerImage == 2 * macs)
}

@Test func imagenetNetBuildsAndTakesOneStep() throws {
    let spec = try NetSpec(parsing: "imagenet")
    let kernels = spec.layers.compactMap { layer -> [Int]? in
        if case let .convolution(_, _, k, s) = layer { return [k, s] }
        if case let .pooling(_, _, w) = layer { return [w] }
        return nil
    }
    #expect(kernels == [[7, 2], [3], [5, 1], [2], [3, 1], [2, 1], [2, 1], [2]])
    let net = Network<Float>(spec: spec, maxBatch: 1)
    let theta = FlatBuffer<Float>(count: net.parameterCount)
    net.initialize(theta, seed: 1)
    var rng = SplitMix64(seed: 2)
    let input = (0..<spec.input.count).map { _ in Float(rng.nextUniform() - 0.5) }
    let gradient = FlatBuffer<Float>(count: net.parameterCount)
    let labels: [Int32] = [417]
    let loss = labels.withUnsafeBufferPointer {
        net.lossAndGradient(parameters: theta.readOnly, input: input, labels: $0, batch: 1, gradient: gradient.pointer, rng: &rng)
    }
    // At He initialisation the prediction is far from confident: the loss is of the order of ln 1000 ≈ 6.9.
    #expect(loss.isFinite && loss > 1 && loss < 100)
    #expect(gradient.isFinite)
    // Every layer with parameters gets a nonzero gradient.
    for layer in net.layers where layer.parameterCount > 0 {
        let view = gradient.view(offset: layer.parameterOffset, count: layer.parameterCount)
        #expect(view.contains { $0 != 0 }, "\(layer.kind) has an all-zero gradient")
    }
}

@Test func smallNetAndWhitespaceAndCase() throws {
    let a = try NetSpec(parsing: "small")
    let b = try NetSpec(parsing: " (1,28) c(32,24) p(32,12) C(64,8)P(64,4)D(256,1)S(10,1) ")
    #expect(a.layers == b.layers && a.input == b.input)
}

@Test(arguments: [
    ("", "empty"),
    ("C(3,28)S(10,1)", "must start with the input size"),
    ("(3,28)", "no layers"),
    ("(3,28)X(4,4)S(10,1)", "unknown layer"),
    ("(3,28)C(64,24)", "must end with the softmax"),
    ("(3,28)C(64,30)S(10,1)", "no valid convolution"),
    ("(3,28)C(64,24)P(32,12)S(10,1)", "keeps the channel count"),
    ("(3,28)C(64,24)P(64,10)S(10,1)", "multiple of 10"),
    ("(3,28)D(10,2)S(10,1)", "has size 1"),
    ("(3,28)S(10,1)D(10,1)", "must come last"),
    ("(3,28)S(1,1)", "at least 2 classes"),
    ("(3,28C(4,4)", "expected ')'"),
    ("(3,0)S(10,1)", "positive integer"),
    // Found by make fuzz (a crash before): a second size without a layer letter.
    ("(1,28)C(32,24)(1,28)C(32,24)P(32,12)D(256,1)S(10,1)", "has no layer letter"),
    ("(1,100000)C(3,99999)S(10,1)", "more than 2^34 outputs"),
])
func badSpecsAreRejectedWithAReason(text: String, reason: String) {
    do {
        _ = try NetSpec(parsing: text)
        Issue.record("\(text) was accepted")
    } catch {
        #expect("\(error)".contains(reason), "\(error)")
    }
}

@Test func convolutionGeometryRule() {
    #expect(NetSpec.convolutionGeometry(from: 28, to: 24)! == (5, 1))
    #expect(NetSpec.convolutionGeometry(from: 221, to: 108)! == (7, 2))
    #expect(NetSpec.convolutionGeometry(from: 14, to: 13)! == (2, 1))
    #expect(NetSpec.convolutionGeometry(from: 5, to: 1)! == (5, 1))
    #expect(NetSpec.convolutionGeometry(from: 100, to: 2) == nil)
}

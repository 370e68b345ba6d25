// A network is the architecture plus the scratch space of ONE replica. Its parameters are not inside:
// every call takes a flat parameter buffer (and writes a flat gradient buffer), so p replicas, a center,
// a look-ahead point or an average are all just vectors of `parameterCount` numbers.

import Records
import Dispatch
import Elastic

public final class Network<Scalar: NetworkScalar> {
    public let spec: NetSpec
    public let layers: [any Layer<Scalar>]
    public let parameterCount: Int
    public let maxBatch: Int
    public var classes: Int { spec.classes }
    public var inputShape: Shape { spec.input }

    /// Activations: outputs[i] is the output of layers[i]; the input is the caller's buffer.
    private let outputs: [FlatBuffer<Scalar>]
    private let outputGradients: [FlatBuffer<Scalar>]
    private let probabilities: FlatBuffer<Scalar>

    /// Seconds spent in each layer's forward and backward since the last reset (when `profiling` is on).
    public var profiling = false
    public private(set) var forwardSeconds: [Double]
    public private(set) var backwardSeconds: [Double]

    /// Whether `lossAndGradient` may be called: false for a network that only evaluates, whose convolutions then
    /// build no backward pass (on oneDNN, its primitives and its tensors in oneDNN's layouts).
    public let computesGradients: Bool

    public init(spec: NetSpec, maxBatch: Int, computesGradients: Bool = true) {
        precondition(maxBatch >= 1)
        self.spec = spec
        self.maxBatch = maxBatch
        self.computesGradients = computesGradients
        let built = Network.layers(spec)
        (built.first as? Convolution<Scalar>)?.computesInputGradient = false
        for case let conv as Convolution<Scalar> in built { conv.computesGradients = computesGradients }
        var offset = 0
        for layer in built {
            layer.parameterOffset = offset
            offset += layer.parameterCount
        }
        layers = built
        parameterCount = offset
        outputs = built.map { FlatBuffer(count: maxBatch * $0.outputShape.count) }
        outputGradients = built.map { FlatBuffer(count: maxBatch * $0.outputShape.count) }
        probabilities = FlatBuffer(count: maxBatch * spec.classes)
        forwardSeconds = Array(repeating: 0, count: built.count)
        backwardSeconds = Array(repeating: 0, count: built.count)
    }

    /// The layers of `spec`, with their shapes and parameter counts, and nothing allocated (layers take their
    /// scratch space on first use).
    public static func layers(_ spec: NetSpec) -> [any Layer<Scalar>] {
        var built: [any Layer<Scalar>] = []
        var shape = spec.input
        // conv → ReLU → max pool runs as conv → max pool → ReLU: max pooling commutes with the monotone rectifier
        // (max(0, max x) = max max(0, x)), and so does the gradient (the first maximum of x is the first of max(0, x)
        // wherever that is positive, and the gradient is 0 where it is not), so values and gradients are the same
        // numbers, while the rectifier passes over a tensor window² times smaller.
        func poolsAConvolution(_ k: Int) -> Bool {
            guard k > 0, k < spec.layers.count, case .pooling = spec.layers[k], case .convolution = spec.layers[k - 1]
            else { return false }
            return true
        }
        func poolsByTwo(_ k: Int) -> Bool {
            guard k < spec.layers.count, case .pooling(_, _, 2) = spec.layers[k] else { return false }
            return true
        }
        var convolutions = 0
        for (k, layer) in spec.layers.enumerated() {
            switch layer {
            case let .convolution(channels, size, kernel, stride):
                var pinned: ConvolutionPath? = nil
                if Scalar.self == Float.self, let paths = spec.convolutionPaths, convolutions < paths.count {
                    pinned = paths[convolutions]
                }
                let path = pinned
                    ?? Convolution<Scalar>.defaultPath(input: shape, outputChannels: channels, kernel: kernel, stride: stride).path
                // On oneDNN, a 2×2/2 pooling after the convolution is computed by it, on oneDNN's own layout.
                let conv = Convolution<Scalar>(input: shape, outputChannels: channels, kernel: kernel, stride: stride,
                                               pooled: path == .onednn && size % 2 == 0 && poolsByTwo(k + 1))
                if let pinned { conv.path = pinned }
                convolutions += 1
                built.append(conv)
                if !poolsAConvolution(k + 1) { built.append(ReLU<Scalar>(input: conv.outputShape)) }
            case .pooling where (built.last as? Convolution<Scalar>)?.isPooled == true:
                break       // computed by the convolution before it, with its rectifier
            case let .pooling(_, _, window):
                let pool = MaxPooling<Scalar>(input: shape, window: window, stride: window)
                built.append(pool)
                if poolsAConvolution(k) { built.append(ReLU<Scalar>(input: pool.outputShape)) }
            case let .dense(units):
                let fc = FullyConnected<Scalar>(input: shape, outputs: units)
                built.append(fc)
                built.append(ReLU<Scalar>(input: fc.outputShape))
                built.append(Dropout<Scalar>(input: fc.outputShape, rate: 0.5))
            case let .softmax(classes):
                built.append(FullyConnected<Scalar>(input: shape, outputs: classes))
            }
            shape = built.last!.outputShape
        }
        return built
    }

    /// Bytes one network at `maxBatch` images holds once it has run forward and backward: every layer's output and
    /// its gradient, the probabilities, the convolutions' working tensors (either path's) and the dropout masks (the
    /// parameters live outside). Nil when the count does not fit in an Int.
    public static func memoryBytes(_ spec: NetSpec, maxBatch: Int) -> Int? {
        var elements = MemoryCount()
        for layer in layers(spec) {
            elements.add(2, maxBatch, layer.outputShape.count)
            if let conv = layer as? Convolution<Scalar> {
                // The largest of the three paths: im2col's columns, their gradient and the product; oneDNN's
                // tensors in its blocked layouts (input, output and their gradients, channels padded to 16); or
                // Winograd's transformed inputs and products (64 points × (Ci + Co) per 4×4 output tile, plus the
                // transformed weights and their gradient, 2 × 64 × Co × Ci, and each point's padding).
                let positions = conv.convolutionShape.height * conv.convolutionShape.width
                var im2col = MemoryCount(), blocked = MemoryCount(), winograd = MemoryCount()
                im2col.add(2, positions, conv.rows)
                im2col.add(positions, conv.outputShape.channels)
                let padded = { (c: Int) in (c + 15) / 16 * 16 }
                blocked.add(2, padded(conv.inputShape.channels), conv.inputShape.height, conv.inputShape.width)
                blocked.add(2, padded(conv.convolutionShape.channels), positions)
                winograd.add(64, conv.inputShape.channels + conv.convolutionShape.channels, (positions + 15) / 16)
                guard let a = im2col.total, let b = blocked.total, let c = winograd.total else { return nil }
                elements.add(maxBatch, max(a, b, c))
                elements.add(2 * 64, conv.inputShape.channels, conv.outputShape.channels)
                elements.add(4 * 64, 32)
                if conv.isPooled {
                    // The carried pooling: off oneDNN, the full output and its gradient, the pooled output, its
                    // gradient and the pooling's Int32 indices (2 full + 3 pooled); on oneDNN, the pooled tensor and
                    // its gradient in the blocked layout and the codes (under 3 pooled). One pooled to spare.
                    elements.add(2, maxBatch, conv.convolutionShape.count)
                    elements.add(4, maxBatch, conv.outputShape.count)
                }
            }
            if layer is Dropout<Scalar> { elements.add(maxBatch, layer.outputShape.count) }
        }
        elements.add(maxBatch, spec.classes)
        return elements.scaled(by: MemoryLayout<Scalar>.stride)
    }

    public convenience init(_ text: String, maxBatch: Int) throws {
        self.init(spec: try NetSpec(parsing: text), maxBatch: maxBatch)
    }

    /// Forward floating-point operations per image (a multiply-add counts 2).
    public var forwardFlopsPerImage: Int { layers.reduce(0) { $0 + $1.forwardFlopsPerImage } }

    /// Floating-point operations of one training step per image: each convolution and fully connected layer
    /// does three products of equal size (forward, weight gradient, input gradient), except that the first
    /// layer needs no input gradient.
    public var trainingFlopsPerImage: Int {
        var total = 0
        for (i, layer) in layers.enumerated() { total += (i == 0 ? 2 : 3) * layer.forwardFlopsPerImage }
        return total
    }

    /// The same count with each convolution's products as its path computes them (`productFlopsPerImage`): fewer
    /// than `trainingFlopsPerImage` when a layer runs on Winograd.
    public var trainingProductFlopsPerImage: Int {
        var total = 0
        for (i, layer) in layers.enumerated() {
            let flops = (layer as? Convolution<Scalar>)?.productFlopsPerImage ?? layer.forwardFlopsPerImage
            total += (i == 0 ? 2 : 3) * flops
        }
        return total
    }

    /// He-normal weights and zero biases, reproducibly from `seed`.
    public func initialize(_ parameters: FlatBuffer<Scalar>, seed: UInt64) {
        precondition(parameters.count == parameterCount, "parameter buffer has the wrong size")
        var rng = SplitMix64.derived(from: seed, stream: 0x1A17)
        for layer in layers where layer.parameterCount > 0 {
            layer.initialize(parameters.view(offset: layer.parameterOffset, count: layer.parameterCount), rng: &rng)
        }
    }

    public func resetProfile() {
        for i in layers.indices { forwardSeconds[i] = 0; backwardSeconds[i] = 0 }
    }

    /// Runs the layers; returns the logits (batch × classes), valid until the next call.
    @discardableResult
    public func forward(parameters: UnsafeBufferPointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
                        training: Bool, rng: inout SplitMix64) -> UnsafeMutablePointer<Scalar> {
        precondition(batch >= 1 && batch <= maxBatch, "batch \(batch) outside 1...\(maxBatch)")
        precondition(parameters.count == parameterCount, "parameter buffer has the wrong size")
        let theta = parameters.baseAddress!
        var x = input
        for (i, layer) in layers.enumerated() {
            let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
            layer.forward(x, outputs[i].base, batch: batch, parameters: theta + layer.parameterOffset,
                          training: training, rng: &rng)
            if profiling { forwardSeconds[i] += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
            x = UnsafePointer(outputs[i].base)
        }
        return outputs[layers.count - 1].base
    }

    /// Mean cross-entropy of the batch at `parameters` and its gradient (overwrites `gradient`).
    /// In training mode dropout is on and draws its masks from `rng`; with `training: false` the loss is a
    /// deterministic function of the parameters (used for curvature).
    public func lossAndGradient(parameters: UnsafeBufferPointer<Scalar>, input: UnsafePointer<Scalar>,
                                labels: UnsafeBufferPointer<Int32>, batch: Int,
                                gradient: UnsafeMutableBufferPointer<Scalar>, rng: inout SplitMix64,
                                training: Bool = true) -> Double {
        precondition(computesGradients, "lossAndGradient on a network built to evaluate only")
        precondition(gradient.count == parameterCount, "gradient buffer has the wrong size")
        precondition(labels.count >= batch, "fewer labels than images")
        let logits = forward(parameters: parameters, input: input, batch: batch, training: training, rng: &rng)
        let k = classes
        let dLogits = outputGradients[layers.count - 1].base
        var total = 0.0
        let scale = 1 / Scalar(batch)
        for i in 0..<batch {
            let z = logits + i * k
            let p = probabilities.base + i * k
            let lse = logSumExp(z, count: k, probabilities: p)
            let label = Int(labels[i])
            precondition(label >= 0 && label < k, "label \(label) outside 0..<\(k)")
            total += Double(lse - z[label])
            for j in 0..<k { dLogits[i * k + j] = p[j] * scale }
            dLogits[i * k + label] -= scale
        }
        let theta = parameters.baseAddress!
        let g = gradient.baseAddress!
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[i]
            let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
            let x = i == 0 ? input : UnsafePointer(outputs[i - 1].base)
            let dx = i == 0 ? nil : outputGradients[i - 1].base
            layer.backward(x, outputs[i].base, outputGradients[i].base, dx, batch: batch,
                           parameters: theta + layer.parameterOffset, gradient: g + layer.parameterOffset)
            if profiling { backwardSeconds[i] += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
        }
        return total / Double(batch)
    }

    /// Summed cross-entropy and the number of misclassified images of a batch, with dropout off.
    public func evaluate(parameters: UnsafeBufferPointer<Scalar>, input: UnsafePointer<Scalar>,
                         labels: UnsafeBufferPointer<Int32>, batch: Int) -> (lossSum: Double, errors: Int) {
        var unused = SplitMix64(seed: 0)
        let logits = forward(parameters: parameters, input: input, batch: batch, training: false, rng: &unused)
        let k = classes
        var total = 0.0
        var errors = 0
        for i in 0..<batch {
            let z = logits + i * k
            let lse = logSumExp(z, count: k, probabilities: probabilities.base + i * k)
            let label = Int(labels[i])
            total += Double(lse - z[label])
            var best = 0
            for j in 1..<k where z[j] > z[best] { best = j }
            if best != label { errors += 1 }
        }
        return (total, errors)
    }

    /// log Σ exp z_j, computed stably; also writes the softmax probabilities.
    private func logSumExp(_ z: UnsafePointer<Scalar>, count k: Int, probabilities p: UnsafeMutablePointer<Scalar>) -> Scalar {
        var m = z[0]
        for j in 1..<k where z[j] > m { m = z[j] }
        var sum: Scalar = 0
        for j in 0..<k {
            p[j] = Scalar.exponential(z[j] - m)
            sum += p[j]
        }
        for j in 0..<k { p[j] /= sum }
        return m + Scalar.logarithm(sum)
    }
}

extension Network {
    /// Sets how every ReLU and max-pooling layer chooses its branch (see `ActivationPattern`).
    public func setActivationPattern(_ pattern: ActivationPattern) {
        for layer in layers {
            if let relu = layer as? ReLU<Scalar> { relu.pattern = pattern }
            if let pool = layer as? MaxPooling<Scalar> { pool.pattern = pattern }
            if let conv = layer as? Convolution<Scalar> { conv.pattern = pattern }
        }
    }
}

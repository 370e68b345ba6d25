// One model replica as a worker sees it: a network (with its own scratch), its own batch stream and
// dropout stream, and buffers for one minibatch. It turns "parameters" into "loss and gradient";
// what is done with the gradient (SGD, Nesterov, the elastic exchange) is the optimizer's business.

import Elastic

public final class Replica {
    public let network: Network<Float>
    public var stream: BatchStream
    public var dropout: SplitMix64
    private let images: FlatBuffer<Float>
    private var labels: [Int32]

    /// Dropout is applied in training steps (off in full-batch mode, where the loss must be deterministic).
    public let dropoutOn: Bool

    public init(spec: NetSpec, stream: BatchStream, seed: UInt64) {
        dropoutOn = !stream.fullBatch
        network = Network(spec: spec, maxBatch: stream.batchSize)
        self.stream = stream
        dropout = SplitMix64.derived(from: seed, stream: 0xD50)
        images = FlatBuffer(count: stream.batchSize * spec.input.count)
        labels = Array(repeating: 0, count: stream.batchSize)
    }

    public var parameterCount: Int { network.parameterCount }
    public var batchSize: Int { stream.batchSize }

    /// Draws the next minibatch and computes the mean loss and its gradient at `parameters`
    /// (weight decay not included).
    public func lossAndGradient(at parameters: UnsafeBufferPointer<Float>, into gradient: UnsafeMutableBufferPointer<Float>) -> Double {
        labels.withUnsafeMutableBufferPointer { l in
            stream.next(images: images.base, labels: l.baseAddress!)
        }
        return labels.withUnsafeBufferPointer { l in
            network.lossAndGradient(parameters: parameters, input: images.base, labels: l,
                                    batch: stream.batchSize, gradient: gradient, rng: &dropout, training: dropoutOn)
        }
    }
}

/// Test-set evaluation: the preprocessed test images are built once, then every evaluation is forward passes.
public final class Evaluator {
    public let network: Network<Float>
    private let inputs: FlatBuffer<Float>
    private let labels: [Int32]
    public var count: Int { labels.count }

    /// Images per evaluation pass.
    public static let batch = 256

    public init(spec: NetSpec, test: Dataset, preprocessing: Preprocessing, batch: Int = Evaluator.batch) {
        network = Network(spec: spec, maxBatch: min(batch, max(test.count, 1)), computesGradients: false)
        let size = spec.input.count
        inputs = FlatBuffer(count: test.count * size)
        for i in 0..<test.count { preprocessing.writeCentre(test, index: i, into: inputs.base + i * size) }
        labels = test.labels.map { Int32($0) }
    }

    /// Mean cross-entropy and error rate of `parameters` on the whole test set (dropout off).
    public func evaluate(_ parameters: FlatBuffer<Float>) -> (loss: Double, error: Double) {
        var lossSum = 0.0
        var errors = 0
        let size = network.inputShape.count
        var start = 0
        labels.withUnsafeBufferPointer { l in
            while start < count {
                let n = min(network.maxBatch, count - start)
                let r = network.evaluate(parameters: parameters.readOnly, input: inputs.base + start * size,
                                         labels: UnsafeBufferPointer(rebasing: l[start..<(start + n)]), batch: n)
                lossSum += r.lossSum
                errors += r.errors
                start += n
            }
        }
        return (lossSum / Double(count), Double(errors) / Double(count))
    }
}

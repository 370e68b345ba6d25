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

/// Test-set evaluation: the centre crops of a pass's images are written into one batch's buffer as the pass goes
/// (a test set of ImageNet's size would not fit preprocessed in memory), then forward passes.
public final class Evaluator {
    public let network: Network<Float>
    private let inputs: FlatBuffer<Float>
    private let labels: [Int32]
    private let test: Dataset
    private let preprocessing: Preprocessing
    public var count: Int { labels.count }

    /// Images per evaluation pass.
    public static let batch = 256

    public init(spec: NetSpec, test: Dataset, preprocessing: Preprocessing, batch: Int = Evaluator.batch) {
        network = Network(spec: spec, maxBatch: min(batch, max(test.count, 1)), computesGradients: false)
        inputs = FlatBuffer(count: network.maxBatch * spec.input.count)
        labels = test.labels
        self.test = test
        self.preprocessing = preprocessing
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
                let (test, preprocessing, inputs) = (test, preprocessing, inputs)
                Parallel.forEach(n) { range in
                    for i in range { preprocessing.writeCentre(test, index: start + i, into: inputs.base + i * size) }
                }
                let r = network.evaluate(parameters: parameters.readOnly, input: inputs.base,
                                         labels: UnsafeBufferPointer(rebasing: l[start..<(start + n)]), batch: n)
                lossSum += r.lossSum
                errors += r.errors
                start += n
            }
        }
        return (lossSum / Double(count), Double(errors) / Double(count))
    }
}

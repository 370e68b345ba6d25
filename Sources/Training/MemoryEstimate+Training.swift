// What a training setup holds: its networks (replicas at the training batch, evaluators at the evaluation batch)
// and its parameter-sized vectors, counted from the spec before anything is allocated.

import Records

extension MemoryEstimate {
    /// The bytes of a training setup: `replicas` networks at `batch` images, `evaluators` at the evaluation batch,
    /// and `vectors` parameter-sized Float vectors (parameters, gradients, velocities, averages, the center).
    public static func training(_ spec: NetSpec, replicas: Int, batch: Int, evaluators: Int, vectors: Int) -> Int? {
        let replica = Network<Float>.memoryBytes(spec, maxBatch: batch)
        let evaluator = Network<Float>.memoryBytes(spec, maxBatch: Evaluator.batch)
        var total = MemoryCount()
        if let replica { total.add(replicas, replica) } else { total.add(nil) }
        if let evaluator { total.add(evaluators, evaluator) } else { total.add(nil) }
        total.add(vectors, parameterCount(spec) ?? Int.max, MemoryLayout<Float>.stride)
        return total.total
    }

    /// The parameters of `spec` (nil on overflow).
    public static func parameterCount(_ spec: NetSpec) -> Int? {
        var count = MemoryCount()
        for layer in Network<Float>.layers(spec) { count.add(layer.parameterCount) }
        return count.total
    }
}

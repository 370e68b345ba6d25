// The local optimizer steps a worker takes between exchanges: plain SGD and L2 weight decay.
// Every function works in place on flat parameter buffers; `Dynamics` calls them on quadratic
// states (Double) and the CNN engine on whole parameter vectors (Float).

public enum LocalStep {
    /// SGD: x ← x − η·g.
    @inlinable
    public static func sgd<T: BinaryFloatingPoint>(
        _ x: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>, learningRate eta: T
    ) {
        precondition(x.count == g.count, "parameter and gradient buffers differ in size")
        for k in 0..<x.count { x[k] -= eta * g[k] }
    }

    /// Weight decay λ/2·‖x‖² folded into the gradient: g ← g + λ·x.
    @inlinable
    public static func addWeightDecay<T: BinaryFloatingPoint>(
        _ g: UnsafeMutableBufferPointer<T>, parameters x: UnsafeBufferPointer<T>, decay lambda: T
    ) {
        precondition(x.count == g.count, "parameter and gradient buffers differ in size")
        if lambda == 0 { return }
        for k in 0..<x.count { g[k] += lambda * x[k] }
    }
}

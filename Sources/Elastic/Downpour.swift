// DOWNPOUR: the worker accumulates its updates −η·g for τ steps (while also stepping locally),
// pushes the sum to the master, pulls the master's parameters and resets its accumulator.

public enum Downpour {
    /// acc ← acc − η·g.
    @inlinable
    public static func accumulate<T: BinaryFloatingPoint>(
        _ acc: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>, learningRate eta: T
    ) {
        precondition(acc.count == g.count, "buffers differ in size")
        for k in 0..<acc.count { acc[k] -= eta * g[k] }
    }

    /// Master side of a push: x̃ ← x̃ + acc; then the worker's accumulator is reset to zero.
    @inlinable
    public static func push<T: BinaryFloatingPoint>(
        _ acc: UnsafeMutableBufferPointer<T>, into center: UnsafeMutableBufferPointer<T>
    ) {
        precondition(acc.count == center.count, "buffers differ in size")
        for k in 0..<acc.count {
            center[k] += acc[k]
            acc[k] = 0
        }
    }

    /// Worker side of a pull: x ← x̃.
    @inlinable
    public static func pull<T: BinaryFloatingPoint>(
        _ center: UnsafeBufferPointer<T>, into x: UnsafeMutableBufferPointer<T>
    ) {
        precondition(x.count == center.count, "buffers differ in size")
        for k in 0..<x.count { x[k] = center[k] }
    }
}

// Nesterov momentum, the local optimizer of EAMSGD (Algorithm 2) and of MSGD:
// the gradient is taken at the look-ahead point x + δv, then v ← δv − η·g and x ← x + v.

public enum Nesterov {
    /// The look-ahead point y = x + δ·v where the gradient is evaluated.
    @inlinable
    public static func lookahead<T: BinaryFloatingPoint>(
        parameters x: UnsafeBufferPointer<T>, velocity v: UnsafeBufferPointer<T>, momentum delta: T,
        into y: UnsafeMutableBufferPointer<T>
    ) {
        precondition(x.count == v.count && x.count == y.count, "buffers differ in size")
        for k in 0..<x.count { y[k] = x[k] + delta * v[k] }
    }

    /// v ← δ·v − η·g(x + δv);  x ← x + v.
    @inlinable
    public static func step<T: BinaryFloatingPoint>(
        parameters x: UnsafeMutableBufferPointer<T>, velocity v: UnsafeMutableBufferPointer<T>,
        lookaheadGradient g: UnsafeBufferPointer<T>, learningRate eta: T, momentum delta: T
    ) {
        precondition(x.count == v.count && x.count == g.count, "buffers differ in size")
        for k in 0..<x.count {
            v[k] = delta * v[k] - eta * g[k]
            x[k] += v[k]
        }
    }
}

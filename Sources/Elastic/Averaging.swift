// Iterate averaging, the "A" and "MVA" of ASGD, MVASGD, ADOWNPOUR and MVADOWNPOUR:
// z ← (1 − a)·z + a·x, with a = 1/(t+1) (the running mean of the iterates) or a constant moving rate.

public enum Averaging {
    /// z ← z + a·(x − z).
    @inlinable
    public static func update<T: BinaryFloatingPoint>(
        average z: UnsafeMutableBufferPointer<T>, parameters x: UnsafeBufferPointer<T>, rate a: T
    ) {
        precondition(z.count == x.count, "buffers differ in size")
        for k in 0..<z.count { z[k] += a * (x[k] - z[k]) }
    }

    /// The running-mean rate after t previous updates: 1/(t+1), so z_t is the mean of x_1 … x_{t+1} when z_0 = x_1.
    @inlinable
    public static func runningMeanRate<T: BinaryFloatingPoint>(after t: Int) -> T { 1 / T(t + 1) }
}

// The elastic exchange of EASGD (Algorithm 1 of the paper): a worker and the master move towards
// each other by the same elastic difference d = α(x_i − x̃), computed once from the pre-exchange values.

public enum ElasticExchange {
    /// Asynchronous exchange between one worker and the center:
    /// d = α(x − x̃);  x ← x − d;  x̃ ← x̃ + d.
    @inlinable
    public static func exchange<T: BinaryFloatingPoint>(
        worker x: UnsafeMutableBufferPointer<T>, center c: UnsafeMutableBufferPointer<T>, alpha: T
    ) {
        precondition(x.count == c.count, "worker and center buffers differ in size")
        for k in 0..<x.count {
            let d = alpha * (x[k] - c[k])
            x[k] -= d
            c[k] += d
        }
    }

    /// Synchronous exchange of all workers with the center, all from the same time step:
    /// x_i ← x_i − α(x_i − x̃) for every i;  x̃ ← x̃ + α Σ_i (x_i − x̃).
    @inlinable
    public static func synchronousExchange<T: BinaryFloatingPoint>(
        workers: [UnsafeMutableBufferPointer<T>], center c: UnsafeMutableBufferPointer<T>, alpha: T
    ) {
        for k in 0..<c.count {
            let old = c[k]
            var sum: T = 0
            for x in workers {
                let d = alpha * (x[k] - old)
                x[k] -= d
                sum += d
            }
            c[k] = old + sum
        }
    }
}

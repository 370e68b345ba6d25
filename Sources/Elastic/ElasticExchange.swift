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

// EASGD's exchange with a coded message (`--compress`): the master knows a worker by its reference s — the sum of
// the worker's decoded messages, less the differences since — not by x. The worker sends x − s through the codec;
// both add what decodes (m̂) to s; then d = α(s − x̃) moves the center by d, and both subtract d from s, the worker
// also from x. With an exact codec s = x after every message and this is `exchange`; otherwise what one message
// misses of x − s stays in it and goes with the next (error feedback by construction), and the center and the
// workers still move by the same d (their sum is kept).
extension ElasticExchange {
    /// The worker's message x − s.
    @inlinable
    public static func codedMessage<T: BinaryFloatingPoint>(worker x: UnsafeBufferPointer<T>, reference s: UnsafeBufferPointer<T>,
                                                            into m: UnsafeMutableBufferPointer<T>) {
        precondition(x.count == s.count && m.count == x.count, "worker, reference and message differ in size")
        for k in 0..<x.count { m[k] = x[k] - s[k] }
    }

    /// The master's part on its copy of s, with the decoded message m̂ in `message`: s += m̂, d = α(s − x̃),
    /// s −= d, x̃ += d; `message` becomes d.
    @inlinable
    public static func acceptCoded<T: BinaryFloatingPoint>(message m: UnsafeMutableBufferPointer<T>, reference s: UnsafeMutableBufferPointer<T>,
                                                           center c: UnsafeMutableBufferPointer<T>, alpha: T) {
        precondition(m.count == c.count && s.count == c.count, "message, reference and center differ in size")
        for k in 0..<c.count {
            s[k] += m[k]
            let d = alpha * (s[k] - c[k])
            s[k] -= d
            c[k] += d
            m[k] = d
        }
    }

    /// The worker's own copy of s, where the master's part runs elsewhere (MPI): s += m̂ when the message goes,
    /// then s −= d with the answer — the master's arithmetic on its copy, bit for bit.
    @inlinable
    public static func codedSent<T: BinaryFloatingPoint>(reference s: UnsafeMutableBufferPointer<T>, message m: UnsafeBufferPointer<T>) {
        for k in 0..<s.count { s[k] += m[k] }
    }
    @inlinable
    public static func codedAnswered<T: BinaryFloatingPoint>(reference s: UnsafeMutableBufferPointer<T>, difference d: UnsafeBufferPointer<T>) {
        for k in 0..<s.count { s[k] -= d[k] }
    }

    /// The worker's step with the master's answer: x −= d.
    @inlinable
    public static func applyDifference<T: BinaryFloatingPoint>(worker x: UnsafeMutableBufferPointer<T>, difference d: UnsafeBufferPointer<T>) {
        for k in 0..<x.count { x[k] -= d[k] }
    }
}

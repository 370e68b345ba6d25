// A wall-clock period: when the next checkpoint of a run (sequential or parallel) is due.

/// A wall-clock period (checkpoints): due every `seconds`, counted from the start or the last time it fired.
import Dispatch

public struct Periodic: Sendable {
    public let seconds: Double?
    private var last: Double

    public init(minutes: Double?, now: Double) {
        seconds = minutes.map { $0 * 60 }
        last = now
    }

    public mutating func due(now: Double) -> Bool {
        guard let seconds, now - last >= seconds else { return false }
        last = now
        return true
    }
}

/// Seconds of the machine's monotonic clock since it was made.
public struct Stopwatch: Sendable {
    private let start = DispatchTime.now().uptimeNanoseconds
    public init() {}
    public var seconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
}

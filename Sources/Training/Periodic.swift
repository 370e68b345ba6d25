// A wall-clock period: when the next checkpoint of a run (sequential or parallel) is due.

/// A wall-clock period (checkpoints): due every `seconds`, counted from the start or the last time it fired.
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

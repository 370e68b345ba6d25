// When a parallel run's tester evaluates and when it checkpoints. Evaluations come every N worker steps in total
// (the master's ticks) or every S seconds of run time, virtual on the simulated backend and wall-clock on the
// threads and MPI backends. Checkpoints come every M minutes of wall-clock time, whatever the backend.

/// Decides when the next evaluation is due; starts from the last record of a resumed run.
public struct EvaluationSchedule: Sendable {
    public let everySteps: Int?
    public let everySeconds: Double?
    private var lastSteps: Int
    private var lastSeconds: Double

    public init(everySteps: Int?, everySeconds: Double?, lastSteps: Int = 0, lastSeconds: Double = 0) {
        precondition((everySteps != nil) != (everySeconds != nil), "evaluate by steps or by seconds")
        self.everySteps = everySteps
        self.everySeconds = everySeconds
        self.lastSteps = lastSteps
        self.lastSeconds = lastSeconds
    }

    /// True (and the schedule moves on) when `steps` worker steps in total at `seconds` of run time call for an
    /// evaluation.
    public mutating func due(steps: Int, seconds: Double) -> Bool {
        let due: Bool
        if let everySteps { due = steps - lastSteps >= everySteps } else { due = seconds - lastSeconds >= everySeconds! }
        if due {
            lastSteps = steps
            lastSeconds = seconds
        }
        return due
    }
}

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

// When a parallel run's tester evaluates and when it checkpoints. Evaluations come every N worker steps in total
// (the master's ticks) or every S seconds of run time, virtual on the simulated backend and wall-clock on the
// threads and MPI backends. Checkpoints come every M minutes of wall-clock time, whatever the backend
// (`Periodic`, shared with sequential runs).

/// How often the tester evaluates: every N worker steps in total, or every S seconds of run time. Written (on the
/// command line and in config.json) as "N" or "Ss".
public enum EvaluationInterval: Equatable, Sendable, Codable, CustomStringConvertible {
    case steps(Int)
    case seconds(Double)

    public init?(text: String) {
        if text.hasSuffix("s") {
            guard let s = Double(text.dropLast()), s.isFinite, s > 0 else { return nil }
            self = .seconds(s)
        } else {
            guard let n = Int(text), n >= 1 else { return nil }
            self = .steps(n)
        }
    }

    public var description: String {
        switch self {
        case .steps(let n): "\(n)"
        case .seconds(let s): "\(s)s"
        }
    }

    public var steps: Int? { if case .steps(let n) = self { n } else { nil } }
    public var seconds: Double? { if case .seconds(let s) = self { s } else { nil } }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let n = try? container.decode(Int.self), n >= 1 {          // older config.json files: a step count
            self = .steps(n)
        } else if let parsed = EvaluationInterval(text: try container.decode(String.self)) {
            self = parsed
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an evaluation interval (N or Ss)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Decides when the next evaluation is due; starts from the last record of a resumed run.
public struct EvaluationSchedule: Sendable {
    public let interval: EvaluationInterval
    private var lastSteps: Int
    private var lastSeconds: Double

    public init(_ interval: EvaluationInterval, lastSteps: Int = 0, lastSeconds: Double = 0) {
        self.interval = interval
        self.lastSteps = lastSteps
        self.lastSeconds = lastSeconds
    }

    /// The first step count after `total` at which an evaluation every N steps falls due (nil for evaluations in
    /// seconds): the next of lastSteps + k·N.
    public func nextStep(after total: Int) -> Int? {
        guard case .steps(let n) = interval else { return nil }
        return lastSteps + ((total - lastSteps) / n + 1) * n
    }

    /// True (and the schedule moves on) when `steps` worker steps in total at `seconds` of run time call for an
    /// evaluation.
    public mutating func due(steps: Int, seconds: Double) -> Bool {
        let due = switch interval {
        case .steps(let n): steps - lastSteps >= n
        case .seconds(let s): seconds - lastSeconds >= s
        }
        if due {
            lastSteps = steps
            lastSeconds = seconds
        }
        return due
    }
}

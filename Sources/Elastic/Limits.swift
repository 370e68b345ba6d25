// The ranges the toolkit accepts, stated once: every command and the library's validation read them from here, so
// a limit cannot be 64 in one place and 256 in another by accident. Where two ranges differ, they differ on purpose
// and say why.

public enum Limits {
    /// Workers of an analysis (a map, a radius, a simulation, a quadratic engine run): ADMM's state has 2p + 1
    /// coordinates and its round map is dense.
    public static let analysisWorkers = 1...256
    /// Workers of a training run (each a replica of the net and its buffers in memory, or a rank).
    public static let trainingWorkers = 1...64
    /// Local steps τ on a map and in a validation (each τ multiplies the round map's cost).
    public static let mapTau = 1...1024
    /// Local steps τ of a training run (DOWNPOUR-style long local phases cost nothing extra).
    public static let trainingTau = 1...100_000
    /// Shard servers S of a sharded center.
    public static let servers = 1...64
    /// Compute threads of one process, and runs at a time.
    public static let threads = 1...256
    /// A minibatch (a full batch is a --train-subset, which may be larger).
    public static let batch = 1...4096
    /// Training images a run may keep (and so the largest full batch); the memory estimate still applies.
    public static let trainSubset = 1...65_536
    /// Step counts of a training budget, a warm-up and a sharpness cadence.
    public static let steps = 1...1_000_000_000_000
    /// Epochs and minutes of a training budget.
    public static let epochs = 1_000_000.0
    public static let minutes = 10_000_000.0

    /// "NAME must be between LO and HI (got V)" when `value` is outside `range`, else nil.
    public static func problem(_ name: String, _ value: Int, _ range: ClosedRange<Int>) -> String? {
        range.contains(value) ? nil : "\(name) must be between \(range.lowerBound) and \(range.upperBound) (got \(value))"
    }

    /// What a real-valued setting must be, beyond finite.
    public enum Sign: Sendable { case any, positive, nonNegative }

    /// "NAME must be a finite number (got V)", "NAME must be positive (got V)" or "NAME must not be negative (got V)"
    /// when `value` is not so, else nil. The one wording of these rules, for every command and the library.
    public static func problem(_ name: String, _ value: Double, _ sign: Sign) -> String? {
        guard value.isFinite else { return "\(name) must be a finite number (got \(value))" }
        switch sign {
        case .any: return nil
        case .positive: return value > 0 ? nil : "\(name) must be positive (got \(value))"
        case .nonNegative: return value >= 0 ? nil : "\(name) must not be negative (got \(value))"
        }
    }

    /// Nesterov momentum δ must be in [0, 1).
    public static func momentumProblem(_ name: String, _ value: Double) -> String? {
        value.isFinite && value >= 0 && value < 1 ? nil : "\(name) must be in [0, 1) (got \(value))"
    }
}

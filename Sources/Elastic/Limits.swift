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

    /// "NAME must be between LO and HI (got V)" when `value` is outside `range`, else nil.
    public static func problem(_ name: String, _ value: Int, _ range: ClosedRange<Int>) -> String? {
        range.contains(value) ? nil : "\(name) must be between \(range.lowerBound) and \(range.upperBound) (got \(value))"
    }
}

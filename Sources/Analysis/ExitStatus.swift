// The exit statuses of every command, with the module that ends runs and jobs with them (RunReport, the
// supervisor) and under the command line that returns them.

/// The exit statuses of every command (README, "Exit status").
public enum ExitStatus {
    /// Bad arguments or settings: nothing was done.
    public static let usage: Int32 = 64
    /// A runtime error (a file, the data, a computation that overflowed): one `easgd:` line says what.
    public static let failure: Int32 = 1
    /// A training run diverged (its loss or model stopped being finite, or every worker stopped); its files stay
    /// readable and the last good checkpoint is kept.
    public static let diverged: Int32 = 2
    /// The data were written but gnuplot could not draw the figure.
    public static let figureMissing: Int32 = 3
    /// Stopped by a signal: 128 + its number (130 SIGINT, 143 SIGTERM); a training run is checkpointed.
    public static func signal(_ number: Int32) -> Int32 { 128 + number }
}

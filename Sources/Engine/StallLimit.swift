// How long a silent rank is waited for: read by the MPI backend (workers, servers, the end of the job) and by the
// supervisor (a launcher that outlives its run), so that one setting means one thing.

import Foundation

/// How long a worker may stay silent before the master gives up on the job: `EASGD_STALL_SECONDS`, default 300 s;
/// after a signal to rank 0 the running workers get 10 s to answer STOP.
public enum StallLimit {
    public static var seconds: Double {
        ProcessInfo.processInfo.environment["EASGD_STALL_SECONDS"].flatMap(Double.init).flatMap { $0 > 0 && $0.isFinite ? $0 : nil } ?? 300
    }
    public static let afterSignal = 10.0
    /// How long rank 0 waits at the end of a job for the other ranks (their bye, MPI_Finalize): the stall limit, or
    /// after a signal `afterSignal`, at most an hour.
    public static func atEnd(interrupted: Bool) -> Double { min(interrupted ? afterSignal : seconds, 3600) }
}

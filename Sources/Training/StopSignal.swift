// SIGINT, SIGTERM and SIGHUP as a polled flag: the handler only records the signal; the training loop notices
// it between steps, writes a final checkpoint and stops cleanly. SIGHUP too: a run started from a terminal whose
// session ends (an ssh connection dropped) is checkpointed rather than killed.

import Foundation
import Synchronization

public enum StopSignal {
    private static let received = Atomic<Int32>(0)

    /// Routes SIGINT, SIGTERM and SIGHUP to the flag (a second signal of the same kind still interrupts the
    /// process in the usual way only after the loop has restored the default handlers).
    public static func install() {
        signal(SIGINT) { StopSignal.record($0) }
        signal(SIGTERM) { StopSignal.record($0) }
        signal(SIGHUP) { StopSignal.record($0) }
        // A process inherits its parent's blocked-signal mask (test runners and some launchers block
        // SIGINT); a blocked signal would wait unseen until the run ends. Unblock both for this thread,
        // before the BLAS threads are started, so that they inherit the unblocked mask.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    public static func uninstall() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        signal(SIGHUP, SIG_DFL)
    }

    private static func record(_ sig: Int32) { received.store(sig, ordering: .relaxed) }

    /// The signal received since the last reset, or nil.
    public static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Pretends a signal arrived (tests, and a `--steps` style stop from elsewhere in the program).
    public static func raise(_ sig: Int32) { record(sig) }
    public static func reset() { received.store(0, ordering: .relaxed) }
}

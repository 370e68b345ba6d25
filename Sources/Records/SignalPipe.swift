// Signals as messages: the handler only writes the signal's number to a pipe (all a handler may safely do); a thread
// of its own reads it and handles it with ordinary locks. The cleanup of every command and the supervisor's
// forwarding both take their signals this way.

import Foundation

public enum SignalPipe {
    nonisolated(unsafe) private static var writeEnd: Int32 = -1

    /// Routes `signals` to `handle`, called on a thread of its own, once per signal received; unblocks them for the
    /// calling thread (a process inherits its parent's blocked mask, and a blocked signal would wait unseen).
    public static func route(_ signals: [Int32], to handle: @escaping @Sendable (Int32) -> Void) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        writeEnd = fds[1]
        let readEnd = fds[0]
        Thread {
            while true {
                var sig: Int32 = 0
                if read(readEnd, &sig, MemoryLayout<Int32>.size) == MemoryLayout<Int32>.size { handle(sig) }
            }
        }.start()
        for sig in signals {
            signal(sig) { s in
                var value = s
                _ = write(SignalPipe.writeEnd, &value, MemoryLayout<Int32>.size)
            }
        }
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals { sigaddset(&set, sig) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

// SIGINT, SIGTERM and SIGHUP as a polled flag: the training loop notices the flag between steps, writes a final
// checkpoint and stops cleanly. SIGHUP too: a run started from a terminal whose session ends (an ssh connection
// dropped) is checkpointed rather than killed.
//
// The signals are blocked on the calling thread and on every thread it starts afterwards (the compute threads, the
// workers, the tester), and one thread of their own takes them with sigwait (a thread the runtime started earlier,
// which computes nothing, may take one too: its handler only records it). A handler would run on whichever
// thread the kernel picks, its frame pushed below that thread's stack pointer — and a thread inside a JIT kernel
// need not have its stack pointer on its stack: AddressSanitizer caught the frame of SIGHUP's handler written 3,112
// bytes below a buffer oneDNN had allocated, which in a plain build is the heap corruption ("malloc(): unaligned
// tcache chunk detected") that made a hung-up run abort instead of checkpointing, now and then.

import Foundation
import Synchronization

public enum StopSignal {
    private static let received = Atomic<Int32>(0)
    /// True between install() and uninstall(): the waiting thread records a signal; otherwise it lets the signal take
    /// its default action (the process ends as if no one had caught it).
    private static let active = Atomic<Bool>(false)
    private static let waiting = Mutex<Bool>(false)

    private static var stopSignals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        return set
    }

    /// Routes SIGINT, SIGTERM and SIGHUP to the flag: blocks them on this thread (the threads it starts from now
    /// on inherit the block) and starts, once, the thread that takes them.
    public static func install() {
        var set = stopSignals
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // Threads the runtime started before this one blocked them may still take a signal: there the handler
        // records it (such a thread is not computing, its frame is on its own stack).
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig) { StopSignal.record($0) } }
        active.store(true, ordering: .sequentiallyConsistent)
        waiting.withLock { started in
            guard !started else { return }
            started = true
            let thread = Thread {
                var set = stopSignals
                while true {
                    var sig: Int32 = 0
                    guard sigwait(&set, &sig) == 0 else { continue }
                    if active.load(ordering: .sequentiallyConsistent) {
                        record(sig)
                    } else {
                        // Not training any more: the signal's default action, as if nothing had caught it.
                        signal(sig, SIG_DFL)
                        var one = sigset_t()
                        sigemptyset(&one)
                        sigaddset(&one, sig)
                        pthread_sigmask(SIG_UNBLOCK, &one, nil)
                        pthread_kill(pthread_self(), sig)
                    }
                }
            }
            thread.name = "easgd-signals"
            thread.start()
        }
    }

    /// Back to the default: a signal from now on ends the process in the usual way.
    public static func uninstall() {
        active.store(false, ordering: .sequentiallyConsistent)
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
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

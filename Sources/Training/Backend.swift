// The backends a parallel run executes on, and which methods each can run, stated once.
//   simulated  one thread, a virtual clock of p devices
//   threads    one thread per worker, a tester on the caller's thread
//   mpi        rank 0 the master and tester, ranks 1…p the workers

import Elastic
import Records

public enum Backend: String, Codable, CaseIterable, Sendable {
    case simulated, threads, mpi

    /// The simulator schedules every worker itself; threads and MPI workers run on their own clocks, except that
    /// both also step every worker together (sync-EASGD, DiLoCo): the threads backend with a thread per worker, MPI
    /// in lockstep through rank 0. ADMM's fixed round-robin order is the simulator's alone.
    public func canRun(_ method: Algorithm) -> Bool {
        switch self {
        case .simulated: true
        case .threads, .mpi: !method.needsFixedOrder
        }
    }

    /// The backend a method runs on when none is given: threads, or the simulator where threads cannot run it.
    public static func preferred(for method: Algorithm) -> Backend { Backend.threads.canRun(method) ? .threads : .simulated }

    /// Refuses a method this backend cannot run, with the reason.
    public func check(_ method: Algorithm) throws {
        guard canRun(method) else {
            let able = Backend.allCases.filter { $0.canRun(method) }.map(\.rawValue)
            let which = able.count == 1 ? "the \(able[0]) backend runs" : "the \(able.joined(separator: " and ")) backends run"
            throw SettingsError("\(method.rawValue) needs every worker at once, so only \(which) it (not \(rawValue))")
        }
    }
}

// The tester off the serving path: a master that serves workers itself (the MPI backend's rank 0) hands each due
// evaluation to this tester's own thread and goes on serving. The master copies the model first (one pass over the
// vector), so the tester evaluates the state at the time the evaluation was due, whatever the workers do meanwhile.
// At most one evaluation waits while another runs; a third makes the master wait (an evaluation schedule faster
// than evaluations run), so the copies held are bounded by two. Before a checkpoint or the final record the master
// drains the tester, so the checkpoint counts exactly the records written.

import Dispatch
import Foundation
import Training

package final class BackgroundTester: @unchecked Sendable {
    private let queue = DispatchQueue(label: "easgd.tester")
    private let slots = DispatchSemaphore(value: 2)
    private let lock = NSLock()
    private var finished: [MetricRecord] = []
    private var failure: Error?

    package init() {}

    /// Runs `evaluate` on the tester's thread; its record is handed back by `take` or `drain`. Waits only when two
    /// evaluations are already outstanding. Throws the failure of an earlier evaluation, if one failed.
    package func submit(_ evaluate: @escaping () throws -> MetricRecord) throws {
        try rethrowFailure()
        slots.wait()
        let job = UncheckedJob(run: evaluate)
        queue.async {
            defer { self.slots.signal() }
            do {
                let record = try job.run()
                self.lock.withLock { self.finished.append(record) }
            } catch {
                self.lock.withLock { self.failure = self.failure ?? error }
            }
        }
    }

    /// The records finished since the last call, in order.
    package func take() throws -> [MetricRecord] {
        try rethrowFailure()
        return lock.withLock {
            defer { finished.removeAll() }
            return finished
        }
    }

    /// Waits for every submitted evaluation; returns the records not yet taken.
    package func drain() throws -> [MetricRecord] {
        queue.sync {}
        return try take()
    }

    private func rethrowFailure() throws {
        if let failure = lock.withLock({ failure }) { throw failure }
    }

    /// The evaluation closure captures the run, which the master does not touch while the tester holds it (the
    /// contract above); the box says so to the compiler.
    private struct UncheckedJob: @unchecked Sendable {
        let run: () throws -> MetricRecord
    }
}

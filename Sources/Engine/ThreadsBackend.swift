// The threads backend: p worker threads and the master's state in one process. The master is guarded by one
// lock. An exchange is O(n) element-wise work, far cheaper than the gradient that precedes it, so per-shard
// locks would buy little and a single lock keeps each exchange atomic without further reasoning. Each worker
// uses one compute thread (ComputeThreads.set(1)) unless told otherwise.

import Dispatch
import Foundation
import Synchronization
import Training

public final class ThreadsBackend<Scalar: NetworkScalar>: @unchecked Sendable {
    public let engine: ParallelEngine<Scalar>
    private let lock = NSLock()
    /// Steps completed by all workers so far (read by the tester while the workers run).
    private let completed = Atomic<Int>(0)
    public var completedSteps: Int { completed.load(ordering: .relaxed) }
    /// Seconds each worker spent inside the master's critical sections (waiting for and holding the lock), over
    /// every `run` so far.
    public private(set) var communicationSeconds: [Double]

    /// Each worker's progress, published under the lock after every step for the tester.
    public private(set) var published: [WorkerProgress]

    public init(engine: ParallelEngine<Scalar>) {
        precondition(engine.settings.method != .syncEasgd && engine.settings.method != .admm,
                     "sync-easgd and admm run on the simulated backend")
        self.engine = engine
        communicationSeconds = Array(repeating: 0, count: engine.workers.count)
        published = engine.workers.map(\.progress)
    }

    /// Runs `body` while holding the master's lock (the tester's snapshot of the center).
    public func withMaster(_ body: () -> Void) {
        lock.lock()
        body()
        lock.unlock()
    }

    /// Every worker takes `steps` steps on its own thread (or stops early if it becomes non-finite).
    @_specialize(exported: true, where Scalar == Float)
    public func run(stepsPerWorker steps: Int) {
        run(untilClock: (engine.workers.map(\.clock).max() ?? 0) + steps) { false }
    }

    /// Every worker steps until its clock reaches `clock`, it becomes non-finite, or `shouldStop()` is true
    /// (checked before each step).
    @_specialize(exported: true, where Scalar == Float)
    public func run(untilClock clock: Int, shouldStop: @escaping @Sendable () -> Bool) {
        let workers = engine.workers
        DispatchQueue.concurrentPerform(iterations: workers.count) { i in
            let w = workers[i]
            var waited = 0.0
            while w.alive && w.clock < clock && !shouldStop() {
                engine.step(w) { body in
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    lock.lock()
                    body()
                    lock.unlock()
                    waited += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                }
                lock.lock()
                published[i] = w.progress
                published[i].communication = communicationSeconds[i] + waited
                lock.unlock()
                completed.add(1, ordering: .relaxed)
            }
            lock.lock()
            communicationSeconds[i] += waited
            lock.unlock()
        }
    }
}

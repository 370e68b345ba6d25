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
    private let lock = NSCondition()
    /// Steps completed by all workers so far (read by the tester while the workers run).
    private let completed = Atomic<Int>(0)
    public var completedSteps: Int { completed.load(ordering: .relaxed) }
    /// Seconds each worker spent inside the master's critical sections (waiting for and holding the lock), over
    /// every `run` so far.
    public private(set) var communicationSeconds: [Double]

    /// Each worker's progress, published under the lock after every step for the tester.
    public private(set) var published: [WorkerProgress]

    /// Snapshots at scheduled counts of completed steps (evaluations every N steps, sharpness measurements): the
    /// worker whose step brings the count to the next one copies the model under the master's lock, with every
    /// worker's progress as published then (whose clocks therefore sum to exactly that count), so the records fall
    /// on the scheduled steps whatever the threads' timing. At most `snapshotRoom` wait for the tester; a worker
    /// that reaches the next one meanwhile waits for room (evaluations asked for more often than the tester keeps
    /// up with slow the workers down rather than being skipped or moved).
    private var nextSnapshot: Int? = nil
    private var snapshotAfter: (@Sendable (Int) -> Int?)? = nil
    private var snapshots: [(steps: Int, progress: [WorkerProgress], model: [Scalar], uptime: UInt64)] = []
    private let snapshotRoom = 2

    public init(engine: ParallelEngine<Scalar>) {
        precondition(Backend.threads.canRun(engine.settings.method), "\(engine.settings.method.rawValue) runs on the simulated backend only")
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

    /// Takes a snapshot when `completedSteps` reaches `first`, and after each one at `next(count)` (nil: no more).
    public func scheduleSnapshots(first: Int?, next: @escaping @Sendable (Int) -> Int?) {
        withMaster {
            nextSnapshot = first
            snapshotAfter = next
        }
    }

    /// The oldest snapshot taken and not yet read: the model copied into `model`, the count, the progress and how
    /// many seconds ago it was taken.
    public func takeSnapshot(into model: FlatBuffer<Scalar>) -> (steps: Int, progress: [WorkerProgress], age: Double)? {
        var result: (steps: Int, progress: [WorkerProgress], age: Double)? = nil
        withMaster {
            guard !snapshots.isEmpty else { return }
            let s = snapshots.removeFirst()
            s.model.withUnsafeBufferPointer { model.base.update(from: $0.baseAddress!, count: $0.count) }
            result = (s.steps, s.progress, Double(DispatchTime.now().uptimeNanoseconds - s.uptime) * 1e-9)
            lock.broadcast()
        }
        return result
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
        if engine.settings.method.stepsTogether { return runTogether(untilClock: clock, shouldStop: shouldStop) }
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
                complete(1) {
                    published[i] = w.progress
                    published[i].communication = communicationSeconds[i] + waited
                }
                lock.unlock()
            }
            lock.lock()
            communicationSeconds[i] += waited
            lock.unlock()
        }
    }

    /// The methods whose workers step together (sync-EASGD, DiLoCo): one synchronous step after another, each
    /// worker's part on a thread of its own and the exchange under the master's lock, so that the arithmetic is the
    /// simulator's. The time inside the exchange (waiting for the lock and holding it) is every stepping worker's
    /// communication; the snapshots fall on the first step count at or after their schedule (counts move by the live
    /// workers at once).
    private func runTogether(untilClock clock: Int, shouldStop: @escaping @Sendable () -> Bool) {
        let workers = engine.workers
        while workers.contains(where: { $0.alive && $0.clock < clock }) && !shouldStop() {
            let before = workers.map(\.clock)
            var exchange = 0.0
            engine.synchronousStep(parallel: true) { body in
                let t0 = DispatchTime.now().uptimeNanoseconds
                lock.lock()
                body()
                lock.unlock()
                exchange += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            }
            let stepped = zip(workers, before).filter { $0.0.clock > $0.1 }.map(\.0.index)
            lock.lock()
            complete(stepped.count) {
                for i in stepped { communicationSeconds[i] += exchange }
                for i in workers.indices {
                    published[i] = workers[i].progress
                    published[i].communication = communicationSeconds[i]
                }
            }
            lock.unlock()
        }
    }

    /// Counts `steps` completed steps (the lock held): a count that reaches the next snapshot waits first for room
    /// in the queue, `publish` updates the progress the tester hears, and the snapshot is taken when due.
    private func complete(_ steps: Int, publish: () -> Void) {
        while let at = nextSnapshot, completed.load(ordering: .relaxed) + steps >= at, snapshots.count >= snapshotRoom { lock.wait() }
        publish()
        let count = completed.add(steps, ordering: .relaxed).newValue
        if let at = nextSnapshot, count >= at {
            snapshots.append((count, published, Array(engine.master.model(engine.settings.method).pointer),
                              DispatchTime.now().uptimeNanoseconds))
            nextSnapshot = snapshotAfter?(count)
        }
    }
}

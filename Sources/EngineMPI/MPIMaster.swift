// Rank 0 as the MPI backend's executor: the master and tester. Hands every worker its settings and state, serves
// requests, hands the lifecycle a snapshot when an evaluation is due (a background tester evaluates it while
// serving goes on), pauses every worker for a checkpoint or stops them all on a signal (to rank 0 or to any
// worker or server), and is done when every worker has sent its final state.
// With `servers` S > 1, rank 0 serves shard 0 of the center and coordinates servers 1…S−1 (Shards.swift); the
// workers are ranks S…S+P−1.

import CMPI
import Dispatch
import Engine
import Foundation
import Records
import Training

final class MPIMaster: ParallelExecutor {
    let run: ParallelTrainingRun
    private let servers: Int
    private let group: ServerGroup
    /// Shard 0 is rank 0's own: the whole master when S = 1, else a copy of its slice, gathered back for every
    /// checkpoint and the final record.
    private let shard: MasterState<Float>
    private let server: Server
    private let tester = BackgroundTester()

    private enum Status { case running, paused, finished }
    private var status: [Status]
    /// A signal seen by rank 0 or reported by a worker or server: stop everything.
    private var signal: Int32? = nil
    /// PAUSE or STOP sent; waiting for every running worker's state.
    private var pausing = false
    private var started = false
    /// Each worker's progress as its requests and states report it; its clock as the requests alone report it
    /// (what the other servers see); when it was last heard from.
    private var progress: [WorkerProgress]
    private var served: [Int]
    private var lastHeard: [Double] = []
    private var signalledAt: Double? = nil
    /// The other servers' serving times (from the last gather at the end) and whether the shards are gathered.
    private var others: [ServingTime] = []
    private var gathered = false
    private let stallLimit = StallLimit.seconds         // read once: the environment is not looked up per message
    /// The plateau schedule's scale the workers were last sent (they start at 1).
    private var sentScale = 1.0
    /// Sync-EASGD and DiLoCo: the rounds (Lockstep.swift), and the pause or stop the next round's answers carry.
    private let rounds: LockstepRounds?
    private var wanted: Control? = nil

    init(run: ParallelTrainingRun, servers: Int) throws {
        self.run = run
        self.servers = servers
        let whole = run.engine.master.center.count
        guard servers >= 1, servers <= whole else { throw MPIError(description: "--servers must be between 1 and the \(whole) parameters") }
        group = ServerGroup(layout: ShardLayout(count: whole, servers: servers))
        shard = servers == 1 ? run.engine.master : run.engine.master.shard(group.layout.range(0))
        server = Server(master: shard, workers: run.engine.workers.count,
                        references: run.settings.engine.replyCompression == nil ? [] : group.ownReferences(run.engine.workers.map(\.replyReference)),
                        sent: run.settings.engine.codesExchange ? group.ownReferences(run.engine.workers.map(\.sentReference)) : [])
        status = run.engine.workers.map { _ in .running }
        rounds = run.settings.engine.method.stepsTogether
            ? LockstepRounds(engine: run.engine, shard: shard, group: group, rank: { [servers] in servers + $0 }) : nil
        progress = run.engine.workers.map(\.progress)
        served = run.engine.workers.map(\.clock)
    }

    private var p: Int { run.engine.workers.count }
    private func rank(_ worker: Int) -> Int { servers + worker }
    private func communication() -> Double { (run.wallClockAtStart.communication ?? 0) + progress.reduce(0) { $0 + $1.communication } }

    /// The settings first; once every worker has loaded its data, the clock starts as on the threads backend
    /// (whose data is loaded before it starts). While the workers load, a signal to rank 0 ends the job at once
    /// (nothing has changed yet), and so does a worker that stays silent beyond the stall limit.
    func prepare(_ lifecycle: RunLifecycle) throws {
        try run.writeConfig(measuredComputeSeconds: nil)
        let settings = try JSONEncoder().encode(run.settings)
        for w in run.engine.workers { send(settings, to: rank(w.index), tag: .settings) }
        try group.start(from: run.engine.master, workerClocks: run.engine.workers.map(\.clock),
                        workerReferences: run.engine.workers.map { [$0.replyReference, $0.sentReference] })
        var none: Float = 0
        let loading = Stopwatch()
        for w in run.engine.workers {
            while true {
                if let status = probe(from: Int32(rank(w.index)), tags: [.ready], seconds: 0.25) {
                    _ = try receive(status, into: &none, capacity: 0)
                    break
                }
                if let sig = StopSignal.pending {
                    throw MPIError(description: "stopped by signal \(sig) while the workers loaded their data; the run is as it was")
                }
                if loading.seconds > StallLimit.seconds {
                    throw MPIError(description: "rank \(rank(w.index)) (worker \(w.index)) did not finish loading its data within \(Int(StallLimit.seconds)) s (EASGD_STALL_SECONDS); the run is as it was")
                }
            }
        }
    }

    /// The one way a stall ends the job: status.json says why, the last checkpoint stays.
    private func stall(_ what: String) -> MPIError {
        let why = what + "; the job ends and keeps the last checkpoint"
        try? RunFiles.writeStatus(RunStatus(.interrupted, reason: why), to: run.directory)
        return MPIError(description: why + " (continue with: mpirun -np \(p + servers) easgd train\(servers > 1 ? " --servers \(servers)" : "") --resume \(run.directory))")
    }

    /// A server that did not answer in time ends the job as a silent worker does, named.
    private func watchingServers<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let silent as ServerSilent { throw stall(silent.description) }
    }

    /// The wait for a worker to take a reply: the stall limit, or after a signal `StallLimit.afterSignal`.
    private func replyTimeout() -> Double { StopSignal.pending == nil ? stallLimit : StallLimit.afterSignal }

    /// The records the tester has finished, to the log (on this thread); with `drain`, after waiting for all. A
    /// plateau's cut of the learning rate goes to every worker still stepping.
    private func logEvaluations(_ lifecycle: RunLifecycle, drain: Bool = false) throws {
        for record in try drain ? tester.drain() : tester.take() { lifecycle.log(record) }
        let scale = lifecycle.rateScale
        if scale != sentScale {
            var bits = scale.bitPattern
            let data = Data(bytes: &bits, count: 8)
            for (i, state) in status.enumerated() where state != .finished { send(data, to: rank(i), tag: .rate) }
            sentScale = scale
        }
    }

    private func stopRunning(_ control: Control) {
        if rounds != nil {
            // Lockstep: never between two rounds; the next round's answers carry it (a stop outranks a pause).
            wanted = wanted == .stop || control == .stop ? .stop : .pause
            return
        }
        for (i, state) in status.enumerated() where state == .running { send(control, to: rank(i)) }
        pausing = true
    }

    func advance(_ lifecycle: RunLifecycle) throws -> ExecutorStop {
        do { return try serve(lifecycle) } catch {
            _ = try? tester.drain()      // an error leaves no evaluation writing behind it
            throw error
        }
    }

    private func serve(_ lifecycle: RunLifecycle) throws -> ExecutorStop {
        if !started {
            for w in run.engine.workers {
                try send(StateMessage(kind: .start, worker: w.snapshot), of: w, to: rank(w.index))
                // A compressed DiLoCo round codes start − x_i: the point the round started from, the center (it moves
                // only at rounds) or with compressed replies the worker's reference (the center as it decoded it).
                if rounds != nil && run.settings.engine.compression != nil {
                    let start = w.roundStart(center: run.engine.master.center)
                    send(start.base, count: start.count, to: rank(w.index), tag: .stateBuffers)
                }
            }
            lastHeard = run.engine.workers.map { _ in lifecycle.wall() }
            started = true
            try logEvaluations(lifecycle)        // a resumed plateau's scale
        }
        // After a checkpoint, the paused workers go on.
        for (i, state) in status.enumerated() where state == .paused { send(.resume, to: rank(i)) }
        status = status.map { $0 == .paused ? .running : $0 }
        while status.contains(where: { $0 != .finished }) {
            if !pausing, wanted != .stop, let pause = lifecycle.pauseWanted() {
                if case .signal(let sig) = pause { signal = signal ?? sig }
                stopRunning(signal != nil ? .stop : .pause)
            }
            if pausing && !status.contains(.running) {
                // Every worker is between two steps (paused) or has sent its final state: the system is consistent.
                pausing = false
                signal = signal ?? StopSignal.pending
                if signal == nil { return .paused(.checkpoint) }
                status = status.map { _ in .finished }      // paused workers are told FINISH at the end
                continue
            }
            try logEvaluations(lifecycle)
            guard let announced = probe(seconds: 0.25) else {
                try checkSilence(lifecycle)
                continue
            }
            try handle(announced, lifecycle)
        }
        try logEvaluations(lifecycle, drain: true)
        server.settle()
        others = try watchingServers { try group.gather(into: run.engine.master, own: shard) }
        gathered = true
        // Every worker's final state is here (and every shard's counters): the clocks are exact now.
        rounds?.settleClock()
        return signal.map { .paused(.signal($0)) } ?? .budgetDone
    }

    /// No message for a while: a running worker silent beyond the stall limit (after a signal, the shorter one)
    /// ends the job, naming it, or the server it waits on.
    private func checkSilence(_ lifecycle: RunLifecycle) throws {
        let now = lifecycle.wall()
        if signalledAt == nil, signal ?? StopSignal.pending != nil { signalledAt = now }
        let limit = signalledAt.map { _ in min(stallLimit, afterSignal) } ?? stallLimit
        let since = signalledAt ?? 0
        // A paused worker waits for us, and so does one at a round; only a running one can be stalled.
        guard let k = status.indices.first(where: { status[$0] == .running && rounds?.waits($0) != true && now - max(lastHeard[$0], since) > limit })
        else { return }
        let silent = now - lastHeard[k]
        // A worker waits for every server's reply: a stopped server silences the workers, so the servers are asked
        // first, and a server that does not answer is the one named.
        let wait = min(limit, StallLimit.afterSignal)
        let why = "\(Int(silent)) s (limit \(Int(limit)) s\(signalledAt == nil ? ", EASGD_STALL_SECONDS" : " after the signal"))"
        if let r = group.silent(within: wait).first {
            throw stall("rank \(r) (server \(r)) does not answer (no reply within \(Int(wait)) s) and rank \(rank(k)) (worker \(k)), waiting on it, has sent nothing for \(why)")
        }
        throw stall("rank \(rank(k)) (worker \(k)) has sent nothing for \(why)")
    }

    /// How long the running workers have to answer after a signal: `StallLimit.afterSignal`, and in lockstep also
    /// about two rounds' time (they stop at the next round).
    private var afterSignal: Double {
        guard let rounds else { return StallLimit.afterSignal }
        return StallLimit.afterSignal + 2 * (rounds.lastRoundSeconds ?? stallLimit)
    }

    /// One message: a server's signal, a worker's state, or a request served (then an evaluation when one is due).
    private func handle(_ announced: MPI_Status, _ lifecycle: RunLifecycle) throws {
        let found = DispatchTime.now().uptimeNanoseconds
        let source = Int(announced.MPI_SOURCE), k = source - servers      // k: the worker's index
        if source > 0 && source < servers {
            var value: Float = 0
            _ = try receive(announced, into: &value, capacity: 1)
            // A signal to a server rank stops the system as one to a worker does (a late ping answer is dropped).
            if announced.MPI_TAG == MessageTag.serverSignal.rawValue {
                signal = signal ?? Int32(value)
                FileHandle.standardError.write(Data("rank \(source) (server \(source)) received signal \(Int32(value)): stopping every rank at a checkpoint\n".utf8))
                if !pausing { stopRunning(.stop) }
            }
            return
        }
        if k >= 0, k < p { lastHeard[k] = lifecycle.wall() }
        guard let tag = MessageTag(rawValue: announced.MPI_TAG), k >= 0, k < p else {
            throw MPIError(description: "unexpected message (tag \(announced.MPI_TAG)) from rank \(source)")
        }
        if tag == .state { return try receiveState(announced, worker: k, lifecycle) }
        if tag == .serverSignal {
            // A lockstep worker's own signal: every rank stops at the next round.
            var value: Float = 0
            _ = try receive(announced, into: &value, capacity: 1)
            signal = signal ?? Int32(value)
            FileHandle.standardError.write(Data("rank \(source) (worker \(k)) received signal \(Int32(value)): stopping every rank at the next round\n".utf8))
            return stopRunning(.stop)
        }
        if tag == .round || tag == .compressedRound, let rounds {
            let trailer = try rounds.receive(announced, worker: k)
            progress[k].loss = trailer.loss
            progress[k].clock = trailer.clock
            progress[k].communication = trailer.communication
            return try completeRound(lifecycle)
        }
        // The request's trailer into the worker's progress, then an evaluation if one is due. For an accepted exchange
        // or push this runs before the answer leaves (`serve`'s `accepted`), so with a sharded center no shard can
        // have served the worker's next request when the snapshot is gathered: with one worker it is exactly the
        // model after this request.
        var noted = false
        func note(_ trailer: Trailer, accepted: Bool) throws {
            progress[k].loss = trailer.loss
            progress[k].clock = trailer.clock
            progress[k].communication = trailer.communication
            served[k] = trailer.clock
            if accepted { progress[k].exchanges += 1 }
            noted = true
            try evaluateIfDue(lifecycle)
        }
        do {
            // The same master-side code as the other backends (`MasterState`), on the whole center or shard 0.
            let (trailer, outcome) = try server.serve(announced, tag: tag, worker: k, found: found, seconds: replyTimeout()) {
                try note($0, accepted: true)
            }
            if !noted { try note(trailer, accepted: outcome == .accepted) }
        } catch is ReplyNotTaken {
            throw stall("rank \(source) (worker \(k)) did not take the master's reply within \(Int(replyTimeout())) s (EASGD_STALL_SECONDS)")
        }
    }

    /// The round, once every running worker has reached it: the master's part, the answers (with the pause or stop
    /// that is wanted), then an evaluation when one is due.
    private func completeRound(_ lifecycle: RunLifecycle) throws {
        guard let rounds else { return }
        let control = wanted
        let done: (workers: [Int], accepted: Bool)?
        do {
            done = try watchingServers {
                try rounds.complete(running: status.map { $0 == .running }, control: control, now: lifecycle.wall(), seconds: replyTimeout())
            }
        } catch let slow as RoundNotTaken {
            throw stall("rank \(rank(slow.worker)) (worker \(slow.worker)) did not take its round's answer within \(Int(replyTimeout())) s (EASGD_STALL_SECONDS)")
        }
        guard let done else { return }
        if done.accepted {
            for k in done.workers { progress[k].exchanges += 1 }
            if control != nil {
                pausing = true
                wanted = nil
            }
        }
        try evaluateIfDue(lifecycle)
    }

    /// A snapshot for the tester when the schedule calls for one.
    private func evaluateIfDue(_ lifecycle: RunLifecycle) throws {
        let now = lifecycle.wall()
        if lifecycle.evaluationDue(steps: progress.reduce(0) { $0 + $1.clock } + run.stepOffset, seconds: now) {
            // A copy of the model now; the tester evaluates it while this loop goes on serving.
            let model = FlatBuffer<Float>(count: run.engine.master.center.count)
            let method = run.settings.engine.method
            if servers == 1 {
                model.copy(from: run.engine.master.model(method))
            } else {
                // In lockstep the center moves only at rounds, each decided before this: every server's slice is
                // of the last round already (its decision reached the server before this request).
                try watchingServers { try group.snapshot(steps: rounds == nil ? served.reduce(0, +) : 0, own: shard, method: method, into: model) }
            }
            let snapshot = run.snapshot(model: model, seconds: now, wall: now, communication: communication(), workers: progress)
            try tester.submit { [lifecycle] in try lifecycle.append(snapshot)! }
        }
    }

    /// A worker's state: paused, done, or interrupted by a signal of its own (then every worker stops).
    private func receiveState(_ announced: MPI_Status, worker k: Int, _ lifecycle: RunLifecycle) throws {
        let w = run.engine.workers[k], source = rank(k)
        let m: StateMessage
        do {
            m = try EngineMPI.receiveState(from: source, into: w, partsWithin: replyTimeout())
        } catch is PartialState {
            throw stall("rank \(source) (worker \(k)) sent part of its state and then nothing for \(Int(replyTimeout())) s (EASGD_STALL_SECONDS)")
        }
        let communicated = progress[k].communication      // a state carries no trailer
        progress[k] = w.progress
        progress[k].communication = communicated
        if let reason = m.stopReason { run.engine.recordStop(w, reason: reason) }
        switch m.kind {
        case .paused: status[k] = .paused
        case .done: status[k] = .finished
        case .interrupted:
            status[k] = .finished
            signal = signal ?? m.signal ?? SIGTERM
            if !pausing { stopRunning(.stop) }        // tell the others to stop too
        case .start: throw MPIError(description: "rank \(source) sent a start state")
        }
        // In lockstep a worker that stopped or finished no longer holds up the round.
        if status[k] == .finished { try completeRound(lifecycle) }
    }

    /// The center after every worker's final state.
    func snapshot(_ lifecycle: RunLifecycle) -> Snapshot {
        let now = lifecycle.wall()
        return run.snapshot(seconds: now, wall: now, communication: communication())
    }

    /// The checkpoint counts every record written, and holds every shard.
    func writeCheckpoint(_ lifecycle: RunLifecycle) throws {
        try logEvaluations(lifecycle, drain: true)
        if !gathered { try watchingServers { _ = try group.gather(into: run.engine.master, own: shard) } }
        try run.writeCheckpoint(wall: WallClock(elapsed: lifecycle.wall(), communication: communication()))
    }

    /// Every worker (and server) is told to end; what the workers and servers reported.
    func end(_ outcome: RunOutcome) throws {
        for w in run.engine.workers { send(.finish, to: rank(w.index)) }
        group.finish()
        let reported = progress.map(\.loss).map { $0.isFinite ? String(format: "%.4f", $0) : "stopped" }
        FileHandle.standardError.write(Data("worker losses (last minibatch): \(reported.joined(separator: ", "))\n".utf8))
        if let rounds {
            let perRound = rounds.time.perRequest.map { String(format: "%.2f ms", 1000 * $0) } ?? "none"
            FileHandle.standardError.write(Data("rank 0's time per round (the master's part and the answers): \(perRound)\n".utf8))
            return
        }
        let perRequest = ([server.time] + others).map { $0.perRequest.map { String(format: "%.2f ms", 1000 * $0) } ?? "none" }
        FileHandle.standardError.write(Data("master-side time per request\(servers > 1 ? ", per shard" : ""): \(perRequest.joined(separator: ", "))\n".utf8))
    }
}

// The MPI backend's lockstep: the methods whose workers step together (sync-EASGD, DiLoCo), each worker on a rank of
// its own and rank 0 holding the round.
//
// The protocol, beside MPIBackend.swift's:
// - A worker steps on its own between two rounds (DiLoCo's H inner steps need nobody; sync-EASGD's τ − 1 steps
//   without an exchange). At a round (sync-EASGD: after the gradient of a step whose clock is a multiple of τ;
//   DiLoCo: after the inner step that makes it one) it sends ROUND: its x_i and the trailer, and waits.
// - Rank 0 keeps each x_i as it arrives (in its copy of the worker's state) and, once every running worker's has,
//   does the master's part in worker order — exactly the engine's (`MasterState.acceptRound`,
//   `acceptSynchronousExchange`) — and answers each worker ROUND: its new x_i (DiLoCo: the center) followed by one
//   control code, or REJECT (DiLoCo's pseudo-gradient not finite: every arriving worker stops, as in the engine).
// - Pauses and stops happen only at a round, where the system is consistent: rank 0 never sends PAUSE or STOP
//   between rounds; a checkpoint or signal that falls due waits for the next round, whose answers carry PAUSE or
//   STOP (then as MPIBackend.swift says: the state, then RESUME or FINISH). A worker that receives a signal itself
//   tells rank 0 (SIGNAL) and steps on to the round. A worker that stops (non-finite) or has taken its steps sends
//   its final state instead, and the round goes on without it, as the engine's does.
// - The messages are Float32, except that DiLoCo with --compress sends the codec's bytes of x̃ − x_i
//   (COMPRESSEDROUND; rank 0 tells each worker the center at the start, and the reply is the next), and with
//   --compress-reply the answer is the codec's bytes of x̃ − r (COMPRESSEDROUND, the control code after them), r
//   being the center as that worker last received it: encoded on the server's copy of r with the coins the
//   engine's worker draws (its clock, index and the slice), and both sides add what decodes to r.
// - A sharded center (`--servers S`, ranks 0…S−1 the servers, S…S+P−1 the workers): a worker sends server s its
//   slice s of the message (a compressed one encoded slice by slice, as the engine's workers encode it when the
//   center is held in S slices) and takes one answer from each, rank 0's carrying the control code (the others'
//   0). Rank 0 still holds the round: once every running worker's slice 0 is in, it tells the other servers who
//   arrived (ROUNDGO), each checks its slice (DiLoCo: its entries of the pseudo-gradient are finite) and says so
//   (ROUNDVERDICT), and rank 0 sends the verdict of all (ROUNDDECISION): every shard applies the round, or every
//   shard refuses it and answers REJECT, so the shards never disagree about a round. Every master-side rule of a
//   round is element-wise, so the sharded run computes what the simulator computes, bit for bit.

import CMPI
import Dispatch
import Elastic
import Engine
import Foundation
import Training

// MARK: The worker's side

/// A lockstep worker's way to the servers: its message as one slice per server out (ROUND), an answer from each
/// back. With one server the slice is the whole vector and the server is rank 0.
struct LockstepLink {
    /// Server s holds entries ranges[s] of the center.
    let ranges: [Range<Int>]
    /// Per server: its slice and the trailer out, its slice and the control code back.
    private let buffers: [FlatBuffer<Float>]
    /// Seconds from sending each round to holding its answers, summed (reported in every trailer).
    private(set) var waited = 0.0
    /// DiLoCo with --compress: the center the round started from (what x̃ − x_i is taken against) and the
    /// message's buffer.
    let codes: Bool
    let start: FlatBuffer<Float>
    let message: FlatBuffer<Float>
    /// DiLoCo with --compress-reply: the codec, the worker's reference r and room for the answer's bytes.
    var reply: MessageLink.Reply? = nil

    init(count n: Int, servers: Int = 1, codes: Bool = false) {
        self.codes = codes
        ranges = n > 0 ? (0..<servers).map(ShardLayout(count: n, servers: servers).range) : []
        buffers = ranges.map { FlatBuffer(count: $0.count + Trailer.count) }
        start = FlatBuffer(count: codes ? n : 0)
        message = FlatBuffer(count: codes ? n : 0)
    }

    private func trailer(loss: Double, clock: Int) -> [Float] {
        var trailer = [Float](repeating: 0, count: Trailer.count)
        trailer.withUnsafeMutableBufferPointer { Trailer(loss: loss, clock: clock, communication: waited).write(to: $0.baseAddress!) }
        return trailer
    }

    /// A compressed round: to each server the wire's bytes of its slice of x̃ − x_i and the trailer, then the
    /// answers as `round`'s into `x`.
    mutating func compressedRound(_ wire: WireMessage, into x: FlatBuffer<Float>, loss: Double, clock: Int) throws -> Answer {
        precondition(wire.slices.count == ranges.count, "one encoded slice per server")
        let start = DispatchTime.now().uptimeNanoseconds
        let trailerBytes = trailer(loss: loss, clock: clock).withUnsafeBytes { Array($0) }
        for s in ranges.indices {
            let bytes = wire.slices[s] + trailerBytes
            bytes.withUnsafeBytes { _ = MPI_Send($0.baseAddress, Int32($0.count), easgd_mpi_byte(), Int32(s), MessageTag.compressedRound.rawValue, easgd_mpi_comm_world()) }
        }
        return try answers(into: x, since: start)
    }

    /// Accepted with the PAUSE or STOP the answer carries (its last value: a `Control` code, or 0 for none).
    enum Answer { case accepted(Control?), rejected }

    /// Sends `x` with the trailer (`clock`: the step in progress, as the tester counts it), a slice to each server,
    /// and waits for the answers: `x` becomes the servers' reply.
    mutating func round(_ x: FlatBuffer<Float>, loss: Double, clock: Int) throws -> Answer {
        let start = DispatchTime.now().uptimeNanoseconds
        let trailer = Trailer(loss: loss, clock: clock, communication: waited)
        for (s, r) in ranges.enumerated() {
            let b = buffers[s]
            b.base.update(from: x.base + r.lowerBound, count: r.count)
            trailer.write(to: b.base + r.count)
            send(b.base, count: r.count + Trailer.count, to: s, tag: .round)
        }
        return try answers(into: x, since: start)
    }

    /// One answer from each server, in the servers' order: all accepted (rank 0's control code is the round's) or
    /// all rejected.
    private mutating func answers(into x: FlatBuffer<Float>, since start: UInt64) throws -> Answer {
        var rejected = 0, control: Control? = nil
        for (s, r) in ranges.enumerated() {
            let status = probe(from: Int32(s), tags: [.round, .reject, .compressedRound])
            let code: Float
            if status.MPI_TAG == MessageTag.compressedRound.rawValue {
                code = try compressedAnswer(status, slice: r, into: x)
            } else {
                let b = buffers[s]
                let count = try receive(status, into: b.base, capacity: r.count + Trailer.count)
                if status.MPI_TAG == MessageTag.reject.rawValue {
                    rejected += 1
                    continue
                }
                guard count == r.count + 1 else {
                    throw MPIError(description: "server \(s) answered a round with \(count) values, not \(r.count) and a control code")
                }
                code = b[r.count]
                (x.base + r.lowerBound).update(from: b.base, count: r.count)
            }
            let c = Control(rawValue: code)
            guard code == 0 || (s == 0 && (c == .pause || c == .stop)) else {
                throw MPIError(description: "server \(s) answered a round with the control code \(code)")
            }
            if s == 0 { control = c }
        }
        waited += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        guard rejected == 0 || rejected == ranges.count else {
            throw MPIError(description: "\(rejected) of \(ranges.count) servers rejected a round the others accepted")
        }
        return rejected > 0 ? .rejected : .accepted(control)
    }

    /// A compressed answer: the codec's bytes of this slice of x̃ − r, decoded by the delta-reply rule into x and r
    /// on the slice, and the control code after them. Returns the code.
    private func compressedAnswer(_ status: MPI_Status, slice: Range<Int>, into x: FlatBuffer<Float>) throws -> Float {
        guard let reply else { throw MPIError(description: "a server answered a round in a codec's bytes to a run without --compress-reply") }
        guard let trailing = reply.receive(status, into: x, range: slice, trailing: 4) else {
            throw MPIError(description: "server \(status.MPI_SOURCE) answered a round with bytes of the wrong count, not \(reply.codec.encodedBytes(count: slice.count)) and a control code")
        }
        return trailing.loadUnaligned(as: Float.self)
    }
}

extension WorkerState where Scalar == Float {
    /// One step of a lockstep method on an MPI rank: the engine's worker part (`innerStep`, `synchronousGradient`,
    /// `synchronousLocalStep`, `restartRound`), with the round through `link` when one falls due. Returns how the
    /// step went and the control code of the round's answer, if there was a round.
    func lockstepStep(settings s: EngineSettings, learningRate eta: Double, link: inout LockstepLink) throws -> (StepOutcome, Control?) {
        switch s.method {
        case .diloco:
            if let reason = innerStep(settings: s, learningRate: eta) { return (.stopped(reason), nil) }
            guard clock % s.tau == 0 else { return (.stepped(communicated: false), nil) }
            guard parameters.isFinite else { return (.stopped(Self.nonFiniteAtRoundEnd), nil) }
            let answer: LockstepLink.Answer
            if let c = s.compression {
                // The pseudo-gradient x̃ − x_i through the codec (the engine's round end: dilocoRoundEnd), its bytes sent.
                OuterStep.workerMessage(center: link.start.readOnly, worker: parameters.readOnly, into: link.message.pointer)
                compress(link.message.pointer, c)
                answer = try link.compressedRound(wire, into: parameters, loss: lastLoss, clock: clock)
            } else {
                answer = try link.round(parameters, loss: lastLoss, clock: clock)
            }
            switch answer {
            case .rejected: return (.stopped(Self.roundRejected), nil)
            case .accepted(let control):
                if link.codes { link.start.copy(from: parameters) }       // the next round starts from this center
                restartRound(settings: s, replyDecoded: link.reply != nil)
                return (.stepped(communicated: true), control)
            }
        case .syncEasgd:
            if let reason = synchronousGradient(settings: s) { return (.stopped(reason), nil) }
            var control: Control? = nil, exchanged = false
            if clock % s.tau == 0 {
                switch try link.round(parameters, loss: lastLoss, clock: clock + 1) {
                case .rejected: return (.stopped("non-finite parameters (rejected by the master)"), nil)
                case .accepted(let c):
                    exchanges += 1
                    control = c
                    exchanged = true
                }
            }
            synchronousLocalStep(learningRate: eta)
            return (.stepped(communicated: exchanged), control)
        default:
            preconditionFailure("\(s.method.rawValue) does not step in lockstep")
        }
    }
}

// MARK: A shard's side (rank 0's or a server's)

/// One shard's part of the rounds: each arriving worker's entries of x_i (rank 0's: its copies of the workers'
/// states; a server's: slots of its own), the master's part on them once rank 0 says who arrived, and the answers.
/// With one server, rank 0's shard is the whole center.
final class RoundShard {
    let master: MasterState<Float>
    /// Which shard this is (the compressed replies' coins), and its entry count.
    let slice: Int
    let m: Int
    private let slots: [UnsafeMutableBufferPointer<Float>]
    /// DiLoCo with --compress-reply: per worker its reference's entries (the center as it last received them).
    private let references: [UnsafeMutableBufferPointer<Float>]
    private let buffer: FlatBuffer<Float>
    private let reply: FlatBuffer<Float>
    private var replyWire: [[UInt8]]
    /// A coded round's bytes as they arrive.
    private var wire: [UInt8] = []
    /// Per worker: whether its entries for the coming round are here, and the step count it reported with them.
    private(set) var arrived: [Bool]
    private(set) var clocks: [Int]
    /// What owns the slots' and references' memory, kept alive as long as this shard is.
    private let owners: [AnyObject]

    init(master: MasterState<Float>, slice: Int, slots: [UnsafeMutableBufferPointer<Float>], references: [UnsafeMutableBufferPointer<Float>],
         owners: [AnyObject]) {
        self.owners = owners
        self.master = master
        self.slice = slice
        m = master.center.count
        precondition(slots.allSatisfy { $0.count == master.center.count } && references.allSatisfy { $0.count == master.center.count })
        self.slots = slots
        self.references = references
        buffer = FlatBuffer(count: m + Trailer.count)
        reply = FlatBuffer(count: m + 1)
        let count = m
        replyWire = [[UInt8](repeating: 0, count: master.settings.replyCompression.map { $0.encodedBytes(count: count) } ?? 0)]
        arrived = Array(repeating: false, count: slots.count)
        clocks = Array(repeating: 0, count: slots.count)
    }

    /// A worker's ROUND message: its entries of x_i into its slot (from a compressed round, the round's start minus
    /// what decodes of start − x_i, as the engine's round end computes it); returns the trailer.
    func receive(_ status: MPI_Status, worker k: Int) throws -> Trailer {
        guard !arrived[k] else { throw MPIError(description: "rank \(status.MPI_SOURCE) sent two rounds before the first was answered") }
        let x = slots[k]
        if status.MPI_TAG == MessageTag.compressedRound.rawValue {
            guard let codec = master.settings.compression?.codec else {
                throw MPIError(description: "rank \(status.MPI_SOURCE) sent a compressed round to a run without compression")
            }
            // The decoded message m̂ into the buffer, then x = start − m̂ in the slot. The worker's start: the center,
            // or with compressed replies its reference (this shard's copy of it).
            _ = try receiveCoded(status, codec: codec, count: m, wire: &wire, into: buffer.base, what: "compressed round")
            let start = references.isEmpty ? master.center.readOnly : UnsafeBufferPointer(references[k])
            OuterStep.workerFromMessage(center: start, message: UnsafeBufferPointer(rebasing: buffer.readOnly[0..<m]), into: x)
        } else {
            let count = try EngineMPI.receive(status, into: buffer.base, capacity: m + Trailer.count)
            guard count == m + Trailer.count else {
                throw MPIError(description: "rank \(status.MPI_SOURCE) sent a round of \(count) values, not \(m + Trailer.count)")
            }
            x.baseAddress!.update(from: buffer.base, count: m)
        }
        let trailer = Trailer(buffer.base + m)
        arrived[k] = true
        clocks[k] = trailer.clock
        return trailer
    }

    /// Whether this shard can take the round of `arriving` (DiLoCo: its entries of the pseudo-gradient are
    /// finite; sync-EASGD: always). Changes no state.
    func verdict(_ arriving: [Int]) -> Bool {
        switch master.settings.method {
        case .diloco: master.prepareRound(arriving.map { UnsafeBufferPointer(slots[$0]) })
        case .syncEasgd: true
        default: preconditionFailure("\(master.settings.method.rawValue) does not step in lockstep")
        }
    }

    /// The round on this shard's entries, as every shard's verdicts decided (`accepted`), and each arriving
    /// worker's answer (`control`: the PAUSE or STOP rank 0's answers carry; nil: none, and always for the other
    /// servers). After `verdict` on the same workers. Throws `RoundNotTaken` when an answer is not taken within
    /// `seconds`.
    func finish(_ arriving: [Int], accepted: Bool, control: Control?, rank: (Int) -> Int, seconds: Double) throws {
        defer { arrived = arrived.map { _ in false } }
        guard accepted else {
            master.rejected += arriving.count
            for k in arriving { send(reply.base, count: 0, to: rank(k), tag: .reject) }
            return
        }
        switch master.settings.method {
        case .diloco:
            master.applyRound(workers: arriving.count)
            for k in arriving { slots[k].baseAddress!.update(from: master.center.base, count: m) }
        case .syncEasgd:
            master.acceptSynchronousExchange(arriving.map { slots[$0] })
            master.clock = max(master.clock, clocks[arriving[0]])
        default:
            preconditionFailure("\(master.settings.method.rawValue) does not step in lockstep")
        }
        for k in arriving {
            if let codec = master.settings.replyCompression, master.settings.method == .diloco {
                // The delta-coded reply on this shard's copy of the worker (x = r += what decodes, as the engine's
                // restartRound), with the coins the worker's own restart draws for this slice: its clock at the
                // round, its index, the slice.
                let clock = clocks[k], slice = slice
                Compression.deltaReply(slots[k], reference: references[k], codec: codec, slices: [0..<m], into: &replyWire) { _ in
                    WorkerState<Float>.replyCoins(clock: clock, worker: k, slice: slice)
                }
                var bytes = replyWire[0]
                withUnsafeBytes(of: control?.rawValue ?? 0) { bytes.append(contentsOf: $0) }
                let sent = bytes.withUnsafeBytes { sendWatched(bytes: $0.baseAddress!, count: $0.count, to: rank(k), tag: .compressedRound, seconds: seconds) }
                guard sent else { throw RoundNotTaken(worker: k) }
                continue
            }
            reply.base.update(from: slots[k].baseAddress!, count: m)
            reply[m] = control?.rawValue ?? 0
            guard sendWatched(reply.base, count: m + 1, to: rank(k), tag: .round, seconds: seconds) else { throw RoundNotTaken(worker: k) }
        }
    }
}

// MARK: Rank 0's side

/// Rank 0's part of the rounds: its shard's (the whole center with one server) and the round's decision, once
/// every running worker has arrived.
final class LockstepRounds {
    private let engine: ParallelEngine<Float>
    private let own: RoundShard
    private let group: ServerGroup
    /// How long the last whole round took (rank 0's wall seconds): after a signal the workers are given about a
    /// round's time to reach the next.
    private(set) var lastRoundSeconds: Double? = nil
    /// Rank 0's time per round: the master's part, the other servers' verdicts and the answers.
    private(set) var time = ServingTime()
    private var lastRoundEnd: Double? = nil

    private let rank: (Int) -> Int

    /// `shard`: rank 0's master (the engine's whole master with one server, else its slice 0).
    init(engine: ParallelEngine<Float>, shard: MasterState<Float>, group: ServerGroup, rank: @escaping (Int) -> Int) {
        self.engine = engine
        self.group = group
        self.rank = rank
        let r = group.layout.range(0)
        let replies = engine.settings.replyCompression != nil && engine.settings.method == .diloco
        own = RoundShard(master: shard, slice: 0,
                         slots: engine.workers.map { UnsafeMutableBufferPointer(rebasing: $0.parameters.pointer[r]) },
                         references: replies ? engine.workers.map { UnsafeMutableBufferPointer(rebasing: $0.replyReference.pointer[r]) } : [],
                         owners: [engine])
    }

    /// A worker's ROUND message (its slice 0): kept in rank 0's copy of its state; returns the trailer.
    func receive(_ status: MPI_Status, worker k: Int) throws -> Trailer { try own.receive(status, worker: k) }

    /// The round, if every running worker's x_i is here (`running`: per worker, whether it is still stepping):
    /// every shard's verdict, the master's part on each, then each arriving worker's answers, rank 0's ending in
    /// `control`. Returns the workers answered, with whether they were accepted; nil while the round waits for
    /// someone. `control`: the PAUSE or STOP the answers carry (nil: none).
    func complete(running: [Bool], control: Control?, now: Double, seconds: Double) throws -> (workers: [Int], accepted: Bool)? {
        let arriving = own.arrived.indices.filter { own.arrived[$0] }
        guard !arriving.isEmpty, running.indices.allSatisfy({ !running[$0] || own.arrived[$0] }) else { return nil }
        guard Set(arriving.map { own.clocks[$0] }).count == 1 else {
            throw MPIError(description: "the workers reached a round at different steps (\(arriving.map { "worker \($0): \(own.clocks[$0])" }.joined(separator: ", ")))")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        var accepted = own.verdict(arriving)
        if group.servers > 1 {
            // Who arrived, to every other server; their verdicts; the verdict of all back to them.
            var go = arriving.map(Float.init)
            for s in 1..<group.servers { send(&go, count: go.count, to: s, tag: .roundGo) }
            for s in 1..<group.servers {
                var verdict: Float = 0
                let got = try EngineMPI.receive(try awaitServer(s, tag: .roundVerdict, for: "its verdict on a round"), into: &verdict, capacity: 1)
                guard got == 1 else { throw MPIError(description: "server \(s) sent a verdict of \(got) values") }
                accepted = accepted && verdict == 1
            }
            var decision: Float = accepted ? 1 : 0
            for s in 1..<group.servers { send(&decision, count: 1, to: s, tag: .roundDecision) }
        }
        try own.finish(arriving, accepted: accepted, control: control, rank: rank, seconds: seconds)
        time.add(since: started)
        if let end = lastRoundEnd { lastRoundSeconds = now - end }
        lastRoundEnd = now
        return (arriving, accepted)
    }

    /// Whether worker `k` waits for the round (it is silent because of the others, not of itself).
    func waits(_ k: Int) -> Bool { own.arrived[k] }

    /// The sync-EASGD master's clock counts synchronous steps: the workers' clocks once their states are in.
    func settleClock() {
        guard engine.settings.method == .syncEasgd else { return }
        engine.master.clock = max(engine.master.clock, engine.workers.map(\.clock).max() ?? 0)
    }
}

// MARK: A server's side

extension RoundShard {
    /// A server's part of a round, on rank 0's ROUNDGO (the arriving workers): their slices (each may still be on
    /// its way), the verdict to rank 0, the decision from it, the round on this slice and the answers. A worker or
    /// rank 0 silent beyond `seconds` ends the job.
    func serve(_ status: MPI_Status, servers: Int, rank: Int, seconds: Double) throws {
        var go = [Float](repeating: 0, count: arrived.count)
        let count = try go.withUnsafeMutableBufferPointer { try EngineMPI.receive(status, into: $0.baseAddress!, capacity: arrived.count) }
        let arriving = go[0..<count].map { Int($0) }
        guard !arriving.isEmpty, arriving.allSatisfy({ $0 >= 0 && $0 < arrived.count }) else {
            throw MPIError(description: "server \(rank): rank 0 announced a round of workers \(arriving)")
        }
        for k in arriving where !arrived[k] {
            guard let status = probe(from: Int32(servers + k), tags: [.round, .compressedRound], seconds: seconds) else {
                throw MPIError(description: "server \(rank): rank \(servers + k) (worker \(k)) did not send its slice of a round within \(Int(seconds)) s (EASGD_STALL_SECONDS)")
            }
            _ = try receive(status, worker: k)
        }
        var verdict: Float = verdict(arriving) ? 1 : 0
        send(&verdict, count: 1, to: 0, tag: .roundVerdict)
        guard let decided = probe(from: 0, tags: [.roundDecision], seconds: seconds) else {
            throw MPIError(description: "server \(rank): rank 0 did not decide a round within \(Int(seconds)) s (EASGD_STALL_SECONDS)")
        }
        var decision: Float = 0
        _ = try EngineMPI.receive(decided, into: &decision, capacity: 1)
        do {
            try finish(arriving, accepted: decision == 1, control: nil, rank: { servers + $0 }, seconds: seconds)
        } catch let slow as RoundNotTaken {
            throw MPIError(description: "server \(rank): rank \(servers + slow.worker) (worker \(slow.worker)) did not take its round's answer within \(Int(seconds)) s (EASGD_STALL_SECONDS)")
        }
    }
}

/// A worker did not take its round's answer within the stall limit.
struct RoundNotTaken: Error { let worker: Int }

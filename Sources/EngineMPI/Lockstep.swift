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
// - One server: the round is a whole-center operation (`--servers 1`). The messages are Float32, except that
//   DiLoCo with --compress sends the codec's bytes of x̃ − x_i (COMPRESSEDROUND; rank 0 tells each worker the center
//   at the start, and the reply is the next), and with --compress-reply rank 0 answers with the codec's bytes of
//   x̃ − r (COMPRESSEDROUND, the control code after them), r being the center as that worker last received it:
//   rank 0 encodes on its copy of the worker's state with the coins the engine's worker draws (its clock, index),
//   and both sides add what decodes to r.

import CMPI
import Dispatch
import Elastic
import Engine
import Foundation
import Training

// MARK: The worker's side

/// A lockstep worker's way to rank 0: one ROUND message out, its answer back.
struct LockstepLink {
    let n: Int
    private let buffer: FlatBuffer<Float>
    /// Seconds from sending each round to holding its answer, summed (reported in every trailer).
    private(set) var waited = 0.0
    /// DiLoCo with --compress: the center the round started from (what x̃ − x_i is taken against) and the
    /// message's buffer.
    let codes: Bool
    let start: FlatBuffer<Float>
    let message: FlatBuffer<Float>
    /// DiLoCo with --compress-reply: the codec, the worker's reference r and room for the answer's bytes.
    var reply: MessageLink.Reply? = nil

    init(count n: Int, codes: Bool = false) {
        self.n = n
        self.codes = codes
        buffer = FlatBuffer(count: n + Trailer.count)
        start = FlatBuffer(count: codes ? n : 0)
        message = FlatBuffer(count: codes ? n : 0)
    }

    /// A compressed round: the wire's bytes of x̃ − x_i (one slice: one server) and the trailer, then the answer
    /// as `round`'s into `x`.
    mutating func compressedRound(_ wire: WireMessage, into x: FlatBuffer<Float>, loss: Double, clock: Int) throws -> Answer {
        precondition(wire.slices.count == 1, "a round goes to one server")
        let start = DispatchTime.now().uptimeNanoseconds
        var trailer = [Float](repeating: 0, count: Trailer.count)
        trailer.withUnsafeMutableBufferPointer { Trailer(loss: loss, clock: clock, communication: waited).write(to: $0.baseAddress!) }
        let bytes = wire.slices[0] + trailer.withUnsafeBytes { Array($0) }
        bytes.withUnsafeBytes { _ = MPI_Send($0.baseAddress, Int32($0.count), easgd_mpi_byte(), 0, MessageTag.compressedRound.rawValue, easgd_mpi_comm_world()) }
        return try answer(into: x, since: start)
    }

    /// Accepted with the PAUSE or STOP the answer carries (its last value: a `Control` code, or 0 for none).
    enum Answer { case accepted(Control?), rejected }

    /// Sends `x` with the trailer (`clock`: the step in progress, as the tester counts it) and waits for the
    /// answer: `x` becomes the master's reply.
    mutating func round(_ x: FlatBuffer<Float>, loss: Double, clock: Int) throws -> Answer {
        let start = DispatchTime.now().uptimeNanoseconds
        buffer.base.update(from: x.base, count: n)
        Trailer(loss: loss, clock: clock, communication: waited).write(to: buffer.base + n)
        send(buffer.base, count: n + Trailer.count, to: 0, tag: .round)
        return try answer(into: x, since: start)
    }

    private mutating func answer(into x: FlatBuffer<Float>, since start: UInt64) throws -> Answer {
        let status = probe(from: 0, tags: [.round, .reject, .compressedRound])
        if status.MPI_TAG == MessageTag.compressedRound.rawValue { return try compressedAnswer(status, into: x, since: start) }
        let count = try receive(status, into: buffer.base, capacity: n + Trailer.count)
        waited += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if status.MPI_TAG == MessageTag.reject.rawValue { return .rejected }
        let code = buffer[n], control = Control(rawValue: code)
        guard count == n + 1, code == 0 || control == .pause || control == .stop else {
            throw MPIError(description: "rank 0 answered a round with \(count) values, not \(n) and a control code")
        }
        x.base.update(from: buffer.base, count: n)
        return .accepted(control)
    }

    /// A compressed answer: the codec's bytes of x̃ − r and the control code; x = r += what decodes.
    private mutating func compressedAnswer(_ status: MPI_Status, into x: FlatBuffer<Float>, since start: UInt64) throws -> Answer {
        let data = receiveData(status)
        waited += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        guard let reply else { throw MPIError(description: "rank 0 answered a round in a codec's bytes to a run without --compress-reply") }
        let coded = reply.codec.encodedBytes(count: n)
        guard data.count == coded + 4 else {
            throw MPIError(description: "rank 0 answered a round with \(data.count) bytes, not \(coded) and a control code")
        }
        var code: Float = 0
        data.withUnsafeBytes { raw in
            reply.codec.decode(UnsafeRawBufferPointer(rebasing: raw[0..<coded]), into: x.pointer)
            withUnsafeMutableBytes(of: &code) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[coded..<(coded + 4)])) }
        }
        let control = Control(rawValue: code)
        guard code == 0 || control == .pause || control == .stop else { throw MPIError(description: "rank 0 answered a round with the control code \(code)") }
        let r = reply.reference
        for k in 0..<n {
            r[k] += x[k]
            x[k] = r[k]
        }
        return .accepted(control)
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

// MARK: Rank 0's side

/// Rank 0's part of the rounds: the x_i that have arrived (in its copies of the workers' states) and the master's
/// step once all running workers' have.
final class LockstepRounds {
    private let engine: ParallelEngine<Float>
    private let n: Int
    private let buffer: FlatBuffer<Float>
    private let reply: FlatBuffer<Float>
    /// DiLoCo with --compress-reply: each answer's bytes (the codec's, then the control code's four).
    private var replyWire: [[UInt8]]
    /// Per worker: whether its x_i for the coming round is here, and the step count it reported with it.
    private var arrived: [Bool]
    private var clocks: [Int]
    /// How long the last whole round took (rank 0's wall seconds): after a signal the workers are given about a
    /// round's time to reach the next.
    private(set) var lastRoundSeconds: Double? = nil
    /// Rank 0's time per round: the master's part and the answers.
    private(set) var time = ServingTime()
    private var lastRoundEnd: Double? = nil

    private let rank: (Int) -> Int

    init(engine: ParallelEngine<Float>, rank: @escaping (Int) -> Int) {
        self.engine = engine
        self.rank = rank
        n = engine.master.center.count
        buffer = FlatBuffer(count: n + Trailer.count)
        reply = FlatBuffer(count: n + 1)
        let count = n
        replyWire = [[UInt8](repeating: 0, count: engine.settings.replyCompression.map { $0.encodedBytes(count: count) } ?? 0)]
        arrived = Array(repeating: false, count: engine.workers.count)
        clocks = Array(repeating: 0, count: engine.workers.count)
    }

    /// A worker's ROUND message: its x_i kept in rank 0's copy of its state (from a compressed round, the round's
    /// start minus what decodes of start − x_i, as the engine's round end computes it); returns the trailer.
    func receive(_ status: MPI_Status, worker k: Int) throws -> Trailer {
        guard !arrived[k] else { throw MPIError(description: "rank \(status.MPI_SOURCE) sent two rounds before the first was answered") }
        let x = engine.workers[k].parameters
        if status.MPI_TAG == MessageTag.compressedRound.rawValue {
            guard let codec = engine.settings.compression?.codec else {
                throw MPIError(description: "rank \(status.MPI_SOURCE) sent a compressed round to a run without compression")
            }
            let data = receiveData(status), coded = codec.encodedBytes(count: n)
            guard data.count == coded + 4 * Trailer.count else {
                throw MPIError(description: "a compressed round of \(data.count) bytes from rank \(status.MPI_SOURCE), not \(coded + 4 * Trailer.count)")
            }
            // The decoded message into the stand-in's buffer first, then x = x̃ − m̂ there (element by element, in place).
            data.withUnsafeBytes { raw in
                codec.decode(UnsafeRawBufferPointer(rebasing: raw[0..<coded]), into: x.pointer)
                UnsafeMutableRawPointer(buffer.base + n).copyMemory(from: raw.baseAddress! + coded, byteCount: 4 * Trailer.count)
            }
            // The worker's start: the center, or with compressed replies its reference (rank 0's copy of it).
            let start = engine.workers[k].roundStart(center: engine.master.center).readOnly
            OuterStep.workerFromMessage(center: start, message: x.readOnly, into: x.pointer)
        } else {
            let count = try EngineMPI.receive(status, into: buffer.base, capacity: n + Trailer.count)
            guard count == n + Trailer.count else {
                throw MPIError(description: "rank \(status.MPI_SOURCE) sent a round of \(count) values, not \(n + Trailer.count)")
            }
            x.base.update(from: buffer.base, count: n)
        }
        let trailer = Trailer(buffer.base + n)
        arrived[k] = true
        clocks[k] = trailer.clock
        return trailer
    }

    /// The round, if every running worker's x_i is here (`running`: per worker, whether it is still stepping):
    /// the master's part in worker order, then each arriving worker's answer ending in `control`. Returns the
    /// workers answered, with whether they were accepted; nil while the round waits for someone. `control`: the
    /// PAUSE or STOP the answers carry (nil: none).
    func complete(running: [Bool], control: Control?, now: Double, seconds: Double) throws -> (workers: [Int], accepted: Bool)? {
        let arriving = arrived.indices.filter { arrived[$0] }
        guard !arriving.isEmpty, running.indices.allSatisfy({ !running[$0] || arrived[$0] }) else { return nil }
        guard Set(arriving.map { clocks[$0] }).count == 1 else {
            throw MPIError(description: "the workers reached a round at different steps (\(arriving.map { "worker \($0): \(clocks[$0])" }.joined(separator: ", ")))")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let master = engine.master, workers = arriving.map { engine.workers[$0] }
        var accepted = true
        switch engine.settings.method {
        case .diloco:
            accepted = master.acceptRound(workers.map(\.parameters.readOnly))
            if accepted { for w in workers { w.parameters.copy(from: master.center) } }
        case .syncEasgd:
            master.acceptSynchronousExchange(workers.map(\.parameters.pointer))
            master.clock = max(master.clock, clocks[arriving[0]])
        default:
            preconditionFailure("\(engine.settings.method.rawValue) does not step in lockstep")
        }
        for (k, w) in zip(arriving, workers) {
            if !accepted {
                send(reply.base, count: 0, to: rank(k), tag: .reject)
                continue
            }
            if let codec = engine.settings.replyCompression, engine.settings.method == .diloco {
                // The delta-coded reply on rank 0's copy of the worker (x = r += what decodes, as the engine's
                // restartRound), with the coins the worker's own restart draws: its clock at the round, its index.
                let clock = clocks[k]
                Compression.deltaReply(w.parameters.pointer, reference: w.replyReference.pointer, codec: codec, slices: [0..<n], into: &replyWire) { _ in
                    WorkerState<Float>.replyCoins(clock: clock, worker: k, slice: 0)
                }
                var bytes = replyWire[0]
                withUnsafeBytes(of: control?.rawValue ?? 0) { bytes.append(contentsOf: $0) }
                let sent = bytes.withUnsafeBytes { sendWatched(bytes: $0.baseAddress!, count: $0.count, to: rank(k), tag: .compressedRound, seconds: seconds) }
                guard sent else { throw RoundNotTaken(worker: k) }
                continue
            }
            reply.base.update(from: w.parameters.base, count: n)
            reply[n] = control?.rawValue ?? 0
            guard sendWatched(reply.base, count: n + 1, to: rank(k), tag: .round, seconds: seconds) else { throw RoundNotTaken(worker: k) }
        }
        time.add(since: started)
        arrived = arrived.map { _ in false }
        if let end = lastRoundEnd { lastRoundSeconds = now - end }
        lastRoundEnd = now
        return (arriving, accepted)
    }

    /// Whether worker `k` waits for the round (it is silent because of the others, not of itself).
    func waits(_ k: Int) -> Bool { arrived[k] }

    /// The sync-EASGD master's clock counts synchronous steps: the workers' clocks once their states are in.
    func settleClock() {
        guard engine.settings.method == .syncEasgd else { return }
        engine.master.clock = max(engine.master.clock, engine.workers.map(\.clock).max() ?? 0)
    }
}

/// A worker did not take its round's answer within the stall limit.
struct RoundNotTaken: Error { let worker: Int }

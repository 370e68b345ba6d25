// A sharded center (`--servers S`, after mpiT): ranks 0…S−1 each hold one contiguous slice of the center (and of
// its velocity or average), ranks S…S+P−1 are the workers. A worker's request goes out as S messages, one per
// server, each with the worker's trailer; every server applies its slice with the same `MasterState` code, since
// every master-side rule (the elastic difference, the push, Nesterov's step, the averages) is element-wise. Rank 0
// also coordinates: it alone talks to the workers about state and control, and it asks the other servers for
// their slices when it evaluates (a snapshot) and when it checkpoints (a gather). S = 1 is the unsharded layout.
//
// Consistency. One request is not one atomic step across the shards: two workers' exchanges may reach shard 0 in
// one order and shard 1 in the other. Each coordinate's history is still a serial history of whole requests
// (every shard serves every request in full, in some order), which is what the asynchronous methods assume of a
// parameter server anyway; with one worker the order is fixed and a run equals the simulated one bit for bit.
// - EASGD, EAMSGD: each shard's elastic difference α(x − x̃) is exact, computed from the values it holds.
// - DOWNPOUR and the A/MVA variants: pushes add (so the center after a set of pushes does not depend on their
//   order beyond rounding); a pull may see another worker's push on one shard and not yet on the other. Every shard
//   counts the same pushes, so the averages' running-mean rate agrees.
// - MDOWNPOUR: a look-ahead's slices may come from master clocks one or two updates apart.
// A payload that is not finite never reaches a shard: with S > 1 the worker checks it before sending (a shard
// that refused its slice would leave the others updated). The checkpoint is consistent: it is gathered when every
// worker is paused between steps, and rank 0 checks that every shard then has served the same requests.
// The evaluated model is a snapshot: each server sends its slice once it has served requests whose clocks sum to
// the tester's step count (the clocks travel in every trailer), so with one worker it is exactly the model after
// that step.

import CMPI
import Dispatch
import Elastic
import Engine
import Foundation
import Training

/// What a server needs to start: the method's settings, its slice, the master's counters, and the workers' clocks
/// (the start of the served-clock sums that snapshots are matched to). Its buffers follow as `.stateBuffers`.
struct ShardStart: Codable {
    var settings: EngineSettings
    var lower: Int
    var upper: Int
    var workerClocks: [Int]
    var counters: ShardCounters
}

/// A shard's counters, sent with its buffers when rank 0 gathers the system.
struct ShardCounters: Codable, Equatable {
    var clock: Int
    var accepted: Int
    var rejected: Int
}

/// What a server has spent serving: requests, and the wall seconds from finding each one to its reply being taken
/// (receiving it, applying it, answering). Per request, the master-side time of an exchange on that shard.
public struct ServingTime: Codable, Equatable, Sendable {
    public var requests = 0
    public var seconds = 0.0
    /// The bytes of the requests' payloads as they arrived (the codec's bytes of a compressed push, 4 per Float32
    /// value otherwise; the trailers left out). Absent in reports written before it was counted.
    public var payloadBytes: Int? = 0
    public var perRequest: Double? { requests > 0 ? seconds / Double(requests) : nil }

    mutating func add(since start: UInt64) {
        requests += 1
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }
}

/// A server's answer to a gather: its counters (which every shard must agree on) and its serving time.
struct ShardReport: Codable {
    var counters: ShardCounters
    var serving: ServingTime
}

extension MasterState where Scalar == Float {
    /// The buffers a shard holds a slice of (center; velocity for MDOWNPOUR and DiLoCo's outer momentum; average for
    /// the A/MVA variants; DiLoCo's delayed pseudo-gradient).
    var shardBuffers: [FlatBuffer<Float>] { [center, velocity, average, pending].filter { $0.count > 0 } }
    var counters: ShardCounters {
        get { ShardCounters(clock: clock, accepted: accepted, rejected: rejected) }
        set { clock = newValue.clock; accepted = newValue.accepted; rejected = newValue.rejected }
    }

    /// A master for entries `range` of this one, holding a copy of them.
    func shard(_ range: Range<Int>) -> MasterState<Float> {
        let shard = MasterState<Float>(settings: settings, count: range.count)
        for (mine, whole) in zip(shard.shardBuffers, shardBuffers) { mine.base.update(from: whole.base + range.lowerBound, count: range.count) }
        shard.counters = counters
        return shard
    }

    /// Copies `shard`'s entries back into `range` of this master.
    func take(_ shard: MasterState<Float>, at range: Range<Int>) {
        for (mine, part) in zip(shardBuffers, shard.shardBuffers) { (mine.base + range.lowerBound).update(from: part.base, count: range.count) }
    }
}

/// How a served request went.
enum Served { case accepted, rejected, lookahead }

/// The master-side handler of every server (rank 0's shard, the other servers', the exchange bench): receives a
/// worker's request into its buffers, applies it to `master` (the whole center or one shard of `n` entries) and
/// answers it. An overlapped exchange (the worker computes its gradient meanwhile) is received into that worker's
/// own buffer and answered from it without waiting for the worker to take the answer: a worker busy computing takes
/// it only when it is done, and the server goes on serving the others. Every other answer is waited for (its
/// worker is waiting for it), at most `seconds`.
final class Server {
    let master: MasterState<Float>
    let n: Int
    private let message: FlatBuffer<Float>
    private let lookahead: FlatBuffer<Float>
    /// Per worker: its overlapped exchanges' buffer and the answer in flight from it.
    private var own: [FlatBuffer<Float>?]
    /// A compressed push's bytes as they arrive.
    private var wire: [UInt8] = []
    private var inFlight: [MPI_Request?]
    private(set) var time = ServingTime()
    /// With a compressed reply: per worker this shard's slice of the center as the worker last received it (with one
    /// server rank 0's copies of the workers' references, which their states overwrite with the same values), the
    /// difference and its bytes; `slice`, which shard this is (its coins).
    private let references: [FlatBuffer<Float>]
    private let slice: Int
    private let difference: FlatBuffer<Float>
    private var replyWire: [[UInt8]] = [[]]
    /// EASGD's coded exchange: per worker this shard's slice of the master's copy of its reference s (with one
    /// server rank 0's copies of the workers' states, which their states overwrite with the same values).
    private let sent: [FlatBuffer<Float>]

    init(master: MasterState<Float>, workers: Int, slice: Int = 0, references: [FlatBuffer<Float>] = [], sent: [FlatBuffer<Float>] = []) {
        precondition(sent.isEmpty || (master.settings.codesExchange && sent.count == workers && sent.allSatisfy { $0.count == master.center.count }),
                     "a coded exchange keeps one reference per worker, of the shard's size")
        self.sent = sent
        self.slice = slice
        self.master = master
        n = master.center.count
        precondition(references.isEmpty || (master.settings.replyCompression != nil && references.count == workers
                                            && references.allSatisfy { $0.count == master.center.count }),
                     "a compressed reply keeps one reference per worker, of the shard's size")
        self.references = references
        difference = FlatBuffer(count: references.isEmpty ? 0 : n)
        if let codec = master.settings.replyCompression, !references.isEmpty { replyWire = [[UInt8](repeating: 0, count: codec.encodedBytes(count: n))] }
        message = FlatBuffer(count: n + Trailer.count)
        lookahead = FlatBuffer(count: master.velocity.count > 0 ? n : 0)
        own = Array(repeating: nil, count: workers)
        inFlight = Array(repeating: nil, count: workers)
    }

    /// Serves the request `status` announced, from worker `k` (rank `source`), found at `found` (uptime ns);
    /// returns its trailer and how it went. Throws `ReplyNotTaken` when an awaited answer is not taken in time.
    /// `accepted` runs once an exchange or push is applied and before its answer leaves: rank 0 takes a due
    /// snapshot there, while the worker cannot yet have sent its next request to any shard.
    func serve(_ status: MPI_Status, tag: MessageTag, worker k: Int, found: UInt64, seconds: Double,
               accepted: (Trailer) throws -> Void = { _ in }) throws -> (Trailer, Served) {
        let source = Int(status.MPI_SOURCE)
        let overlapped = tag == .overlappedExchange
        let buffer: FlatBuffer<Float>
        if overlapped {
            // Its previous answer was taken before this request was sent: completing it returns at once.
            if inFlight[k] != nil { MPI_Wait(&inFlight[k], easgd_mpi_status_ignore()) }
            if own[k] == nil { own[k] = FlatBuffer(count: n + Trailer.count) }
            buffer = own[k]!
        } else {
            buffer = message
        }
        let count: Int, arrived: Int
        if tag == .compressedPush || tag == .codedExchange {
            (count, arrived) = try receiveCompressed(status, into: buffer.base)
        } else {
            count = try receive(status, into: buffer.base, capacity: n + Trailer.count)
            arrived = 4 * max(0, count - Trailer.count)
        }
        time.payloadBytes = (time.payloadBytes ?? 0) + arrived
        guard count >= Trailer.count else { throw MPIError(description: "rank \(source) sent a request without its trailer") }
        let trailer = Trailer(buffer.base + count - Trailer.count)
        let full = count == n + Trailer.count
        let payload = UnsafeMutableBufferPointer(rebasing: buffer.pointer[0..<n])
        func answer(_ ok: Bool, with reply: UnsafePointer<Float>, count replyCount: Int) throws -> Served {
            guard ok else {
                send(buffer.base, count: 0, to: source, tag: .reject)
                return .rejected
            }
            try accepted(trailer)
            guard sendWatched(reply, count: replyCount, to: source, tag: tag, seconds: seconds) else { throw ReplyNotTaken() }
            return .accepted
        }
        let served: Served
        switch tag {
        case .overlappedExchange:
            if full && master.acceptExchange(payload) {
                try accepted(trailer)
                MPI_Isend(buffer.base, Int32(n), easgd_mpi_float(), Int32(source), tag.rawValue, easgd_mpi_comm_world(), &inFlight[k])
                served = .accepted
            } else {
                send(buffer.base, count: 0, to: source, tag: .reject)
                served = .rejected
            }
        case .exchange:
            served = try answer(full && master.acceptExchange(payload), with: buffer.base, count: n)
        case .codedExchange:
            guard k < sent.count else { throw MPIError(description: "rank \(source) sent a coded exchange to a server without the workers' references") }
            served = try answer(full && master.acceptCodedExchange(payload, reference: sent[k].pointer), with: buffer.base, count: n)
        case .push, .compressedPush:
            if let codec = master.settings.replyCompression, !references.isEmpty {
                guard full && master.acceptPush(payload, pull: { _ in }) else {
                    send(buffer.base, count: 0, to: source, tag: .reject)
                    served = .rejected
                    break
                }
                try accepted(trailer)
                // The delta-coded reply (Elastic's rule) with the coins the worker's own step would draw (its clock
                // before the step: the trailer's less one); the bytes go.
                difference.copy(from: master.center)
                Compression.deltaReply(difference.pointer, reference: references[k].pointer, codec: codec, slices: [0..<n], into: &replyWire) { _ in
                    WorkerState<Float>.replyCoins(clock: trailer.clock - 1, worker: k, slice: self.slice)
                }
                let sent = replyWire[0].withUnsafeBytes { sendWatched(bytes: $0.baseAddress!, count: $0.count, to: source, tag: tag, seconds: seconds) }
                guard sent else { throw ReplyNotTaken() }
                served = .accepted
            } else {
                served = try answer(full && master.acceptPush(payload) { _ in }, with: master.center.base, count: n)
            }
        case .lookahead:
            master.lookahead(into: lookahead.pointer)
            guard sendWatched(lookahead.base, count: n, to: source, tag: .lookahead, seconds: seconds) else { throw ReplyNotTaken() }
            served = .lookahead
        case .gradient:
            served = try answer(full && master.acceptGradient(UnsafeBufferPointer(payload), learningRate: trailer.rate), with: buffer.base, count: 0)
        default:
            throw MPIError(description: "rank \(source) sent a \(tag) message to a server")
        }
        time.add(since: found)
        return (trailer, served)
    }

    /// A compressed push: the codec's bytes of this server's n entries, decoded into `buffer`, then the trailer's
    /// Floats after them; returns n + Trailer.count and the payload's bytes (a message of the wrong size throws).
    private func receiveCompressed(_ status: MPI_Status, into buffer: UnsafeMutablePointer<Float>) throws -> (Int, Int) {
        guard let codec = master.settings.compression?.codec else {
            throw MPIError(description: "rank \(status.MPI_SOURCE) sent a compressed push to a run without compression")
        }
        let bytes = try receiveCoded(status, codec: codec, count: n, wire: &wire, into: buffer, what: "compressed push")
        return (n + Trailer.count, bytes)
    }

    /// Completes every answer still in flight (each taken by now: its worker has stopped or paused since).
    func settle() {
        for k in inFlight.indices where inFlight[k] != nil { MPI_Wait(&inFlight[k], easgd_mpi_status_ignore()) }
    }
}

struct ReplyNotTaken: Error {}

/// A worker's coded message to a server (a compressed push, a compressed round): the codec's bytes of n entries,
/// decoded into `buffer`, then the trailer's Floats as bytes, copied after them; `wire` holds the bytes as they
/// arrive. Returns the payload's bytes; a message of another size throws, naming `what` it was.
func receiveCoded(_ status: MPI_Status, codec: Codec, count n: Int, wire: inout [UInt8], into buffer: UnsafeMutablePointer<Float>,
                  what: String) throws -> Int {
    let coded = codec.encodedBytes(count: n), expected = coded + 4 * Trailer.count
    if wire.count < expected { wire = [UInt8](repeating: 0, count: expected) }
    var status = status
    var count: Int32 = 0
    MPI_Get_count(&status, easgd_mpi_byte(), &count)
    guard Int(count) == expected else { throw MPIError(description: "a \(what) of \(count) bytes from rank \(status.MPI_SOURCE), not \(expected)") }
    wire.withUnsafeMutableBytes { bytes in
        MPI_Recv(bytes.baseAddress, count, easgd_mpi_byte(), status.MPI_SOURCE, status.MPI_TAG, easgd_mpi_comm_world(), &status)
        codec.decode(UnsafeRawBufferPointer(rebasing: bytes[0..<coded]), into: UnsafeMutableBufferPointer(start: buffer, count: n))
        UnsafeMutableRawPointer(buffer + n).copyMemory(from: bytes.baseAddress! + coded, byteCount: 4 * Trailer.count)
    }
    return coded
}

// MARK: Rank 0's side of the other servers

/// A server rank that did not answer rank 0 in time (stopped, hung, or its host gone): names the rank and what rank 0
/// was waiting for.
struct ServerSilent: Error, CustomStringConvertible {
    var rank: Int
    var waitingFor: String
    var seconds: Double
    var afterSignal: Bool
    var description: String {
        "rank \(rank) (server \(rank)) has not sent \(waitingFor) for \(Int(seconds)) s (limit \(Int(afterSignal ? StallLimit.afterSignal : StallLimit.seconds)) s\(afterSignal ? " after the signal" : ", EASGD_STALL_SECONDS"))"
    }
}

/// Waits for a message from server `k` with `tag`: at most the stall limit, and at most `StallLimit.afterSignal`
/// once a signal to rank 0 is pending (rank 0 must end within that of a signal, whatever a server does).
func awaitServer(_ k: Int, tag: MessageTag, for what: String) throws -> MPI_Status {
    let start = DispatchTime.now().uptimeNanoseconds, limit = StallLimit.seconds
    var signalledAt: Double? = nil
    while true {
        if let status = probe(from: Int32(k), tags: [tag], seconds: 0.25) { return status }
        let waited = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if signalledAt == nil, StopSignal.pending != nil { signalledAt = waited }
        if let at = signalledAt, waited - at > StallLimit.afterSignal {
            throw ServerSilent(rank: k, waitingFor: what, seconds: waited, afterSignal: true)
        }
        if waited > limit { throw ServerSilent(rank: k, waitingFor: what, seconds: waited, afterSignal: false) }
    }
}

/// Rank 0's view of servers 1…S−1: starts them, asks for snapshots and gathers their slices.
struct ServerGroup {
    let layout: ShardLayout
    var servers: Int { layout.servers }

    /// Sends each server its slice of `master`, the counters and the workers' clocks, and its slice of each worker's
    /// references (`workerReferences`: per worker the reply's reference r_i and the coded exchange's s_i, each
    /// empty when the run has none).
    func start(from master: MasterState<Float>, workerClocks: [Int], workerReferences: [[FlatBuffer<Float>]] = []) throws {
        for k in 1..<servers {
            let range = layout.range(k)
            let start = ShardStart(settings: master.settings, lower: range.lowerBound, upper: range.upperBound,
                                   workerClocks: workerClocks, counters: master.counters)
            send(try JSONEncoder().encode(start), to: k, tag: .shardStart)
            for b in master.shardBuffers { send(b.base + range.lowerBound, count: range.count, to: k, tag: .stateBuffers) }
            for b in workerReferences.joined() where b.count > 0 { send(b.base + range.lowerBound, count: range.count, to: k, tag: .stateBuffers) }
        }
    }

    /// Copies of shard 0's slices of the workers' references, for rank 0's own shard when the center is sharded
    /// (with one server rank 0 serves from its copies of the workers' states themselves).
    func ownReferences(_ whole: [FlatBuffer<Float>]) -> [FlatBuffer<Float>] {
        guard servers > 1 else { return whole }
        let range = layout.range(0)
        return whole.map { b in
            let part = FlatBuffer<Float>(count: b.count > 0 ? range.count : 0)
            if b.count > 0 { part.base.update(from: b.base + range.lowerBound, count: range.count) }
            return part
        }
    }

    /// The model (center or average) into `model`: shard 0's slice from `own`, the others' slices once each has
    /// served requests whose clocks sum to `steps`.
    func snapshot(steps: Int, own: MasterState<Float>, method: Algorithm, into model: FlatBuffer<Float>) throws {
        var request: [Float] = [0, 0]
        request.withUnsafeMutableBufferPointer { Trailer.writeClock(steps, to: $0.baseAddress!) }
        for k in 1..<servers { send(&request, count: 2, to: k, tag: .snapshot) }
        model.base.update(from: own.model(method).base, count: layout.range(0).count)
        for k in 1..<servers {
            let range = layout.range(k)
            let got = try receive(try awaitServer(k, tag: .snapshot, for: "its slice of the model for the tester"),
                                  into: model.base + range.lowerBound, capacity: range.count)
            guard got == range.count else { throw MPIError(description: "server \(k) sent a snapshot of \(got) values, expected \(range.count)") }
        }
    }

    /// Every shard's buffers and counters into `master` (shard 0 from `own`). Call only when no worker is in the
    /// middle of a request (all paused or done): then every shard has served the same requests, which is checked.
    /// Returns servers 1…S−1's serving times.
    @discardableResult
    func gather(into master: MasterState<Float>, own: MasterState<Float>) throws -> [ServingTime] {
        guard servers > 1 else { return [] }
        master.take(own, at: layout.range(0))
        var counters = [own.counters]
        var serving: [ServingTime] = []
        var none: Float = 0
        for k in 1..<servers {
            send(&none, count: 0, to: k, tag: .gather)
            let report = try JSONDecoder().decode(ShardReport.self, from: receiveData(try awaitServer(k, tag: .gather, for: "its slice for the checkpoint")))
            let c = report.counters
            serving.append(report.serving)
            let range = layout.range(k)
            for b in master.shardBuffers {
                let got = try receive(try awaitServer(k, tag: .stateBuffers, for: "the rest of its slice for the checkpoint"),
                                      into: b.base + range.lowerBound, capacity: range.count)
                guard got == range.count else { throw MPIError(description: "server \(k) sent \(got) values of its slice, expected \(range.count)") }
            }
            counters.append(c)
        }
        guard counters.allSatisfy({ $0 == counters[0] }) else {
            throw MPIError(description: "the shards disagree on the requests served (clock, accepted, rejected: \(counters.map { "\($0.clock)/\($0.accepted)/\($0.rejected)" }.joined(separator: ", "))); the last checkpoint is kept")
        }
        master.counters = counters[0]
        return serving
    }

    func finish() {
        for k in 1..<servers { send(.finish, to: k) }
    }

    /// The servers that do not answer a ping within `seconds` (a live server answers between two requests).
    func silent(within seconds: Double) -> [Int] {
        guard servers > 1 else { return [] }
        var none: Float = 0
        for k in 1..<servers { send(&none, count: 0, to: k, tag: .ping) }
        return unanswered(1..<servers, tag: .ping, within: seconds)
    }
}

// MARK: The end of the job

extension MPIBackend {
    /// A rank ≥ 1's last message to rank 0, as it ends.
    static func sayBye() {
        var none: Float = 0
        send(&none, count: 0, to: 0, tag: .bye)
    }

    /// The ranks 1…size−1 whose `.bye` has not come within `seconds`.
    static func ranksNotEnded(size: Int, within seconds: Double) -> [Int] { unanswered(1..<size, tag: .bye, within: seconds) }
}

/// The ranks from which an empty message with `tag` has not come within `seconds` (one deadline for all); the
/// messages that came are received.
func unanswered(_ ranks: Range<Int>, tag: MessageTag, within seconds: Double) -> [Int] {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
    var none: Float = 0
    return ranks.filter { r in
        let left = max(0.01, Double(Int64(deadline) - Int64(DispatchTime.now().uptimeNanoseconds)) * 1e-9)
        guard let status = probe(from: Int32(r), tags: [tag], seconds: left) else { return true }
        _ = try? receive(status, into: &none, capacity: 0)
        return false
    }
}

// MARK: A server rank

extension MPIBackend {
    /// Rank k in 1…S−1: serves its slice of the center to every worker until rank 0 says FINISH; answers rank 0's
    /// snapshot and gather requests. Keeps no files; an error aborts the job (the last checkpoint stays).
    /// `started` runs once the shard is in place, before the first request (the exchange bench's barrier).
    public static func server(rank: Int, servers: Int, started: () -> Void = {}) throws {
        let start = try JSONDecoder().decode(ShardStart.self, from: receiveData(from: 0, tag: .shardStart))
        let n = start.upper - start.lower
        let shard = MasterState<Float>(settings: start.settings, count: n)
        for b in shard.shardBuffers {
            let got = try receive(from: 0, tag: .stateBuffers, into: b.base, capacity: n)
            guard got == n else { throw MPIError(description: "rank 0 sent a slice of \(got) values, expected \(n)") }
        }
        shard.counters = start.counters
        // Per worker its reply reference's slice and its coded exchange's s's, in the order rank 0 sent them.
        let p = start.workerClocks.count
        func slices(_ present: Bool) -> [FlatBuffer<Float>] { present ? (0..<p).map { _ in FlatBuffer<Float>(count: n) } : [] }
        let references = slices(start.settings.replyCompression != nil), sent = slices(start.settings.codesExchange)
        for w in 0..<p {
            for b in [references, sent].compactMap({ $0.isEmpty ? nil : $0[w] }) {
                let got = try receive(from: 0, tag: .stateBuffers, into: b.base, capacity: n)
                guard got == n else { throw MPIError(description: "rank 0 sent a worker's reference slice of \(got) values, expected \(n)") }
            }
        }
        started()
        let method = start.settings.method
        let server = Server(master: shard, workers: p, slice: rank, references: references, sent: sent)
        // Lockstep (sync-EASGD, DiLoCo): the rounds on this slice, each worker's entries in a slot of its own.
        let slots = start.settings.method.stepsTogether ? (0..<p).map { _ in FlatBuffer<Float>(count: n) } : []
        let rounds = slots.isEmpty ? nil
            : RoundShard(master: shard, slice: rank, slots: slots.map(\.pointer),
                         references: start.settings.method == .diloco ? references.map(\.pointer) : [], owners: slots + references)
        var clocks = start.workerClocks           // each worker's clock as its last request here reported it
        var served = clocks.reduce(0, +)
        var snapshotAt: Int? = nil
        let stallLimit = StallLimit.seconds
        var pair: [Float] = [0, 0]
        var signalSent = false
        func sendSnapshotIfDue() {
            guard let steps = snapshotAt, served >= steps else { return }
            send(shard.model(method).base, count: n, to: 0, tag: .snapshot)
            snapshotAt = nil
        }
        while true {
            // A signal to this rank stops the whole system, as one to a worker does: rank 0 is told, pauses every
            // worker, gathers the shards (this one still serves) and checkpoints.
            if !signalSent, let sig = StopSignal.pending {
                var value = Float(sig)
                send(&value, count: 1, to: 0, tag: .serverSignal)
                signalSent = true
            }
            guard let status = probe(seconds: 0.25) else { continue }
            let found = DispatchTime.now().uptimeNanoseconds
            let source = Int(status.MPI_SOURCE)
            guard let tag = MessageTag(rawValue: status.MPI_TAG) else {
                throw MPIError(description: "server \(rank): unexpected message (tag \(status.MPI_TAG)) from rank \(source)")
            }
            if let rounds {
                if source == 0 && tag == .roundGo {
                    try rounds.serve(status, servers: servers, rank: rank, seconds: stallLimit)
                    continue
                }
                if source >= servers && (tag == .round || tag == .compressedRound) {
                    guard source - servers < p else { throw MPIError(description: "server \(rank): a round from rank \(source)") }
                    _ = try rounds.receive(status, worker: source - servers)
                    continue
                }
            }
            if source == 0 && [.control, .snapshot, .gather, .ping].contains(tag) {
                switch tag {
                case .ping:
                    var none: Float = 0
                    _ = try receive(status, into: &none, capacity: 0)
                    send(&none, count: 0, to: 0, tag: .ping)
                case .control:
                    var code: Float = 0
                    _ = try receive(status, into: &code, capacity: 1)
                    if Control(rawValue: code) == .finish { server.settle(); return }
                    throw MPIError(description: "server \(rank) was sent control code \(code)")
                case .snapshot:
                    _ = try receive(status, into: &pair, capacity: 2)
                    snapshotAt = pair.withUnsafeBufferPointer { Trailer.readClock($0.baseAddress!) }
                    sendSnapshotIfDue()
                default:
                    var none: Float = 0
                    _ = try receive(status, into: &none, capacity: 0)
                    send(try JSONEncoder().encode(ShardReport(counters: shard.counters, serving: server.time)), to: 0, tag: .gather)
                    for b in shard.shardBuffers { send(b.base, count: n, to: 0, tag: .stateBuffers) }
                }
                continue
            }
            let worker = source - servers
            guard worker >= 0, worker < clocks.count else {
                throw MPIError(description: "server \(rank): unexpected \(tag) message from rank \(source)")
            }
            let trailer: Trailer
            do {
                (trailer, _) = try server.serve(status, tag: tag, worker: worker, found: found, seconds: stallLimit)
            } catch is ReplyNotTaken {
                throw MPIError(description: "server \(rank): rank \(source) (worker \(worker)) did not take its reply within \(Int(stallLimit)) s (EASGD_STALL_SECONDS)")
            }
            served += trailer.clock - clocks[worker]
            clocks[worker] = trailer.clock
            sendSnapshotIfDue()
        }
    }
}

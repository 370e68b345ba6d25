// The MPI backend, launched as `mpirun -np P+1 easgd train --backend mpi ...`: rank 0 is the master (the parameter
// server), with the tester on a thread of its own (`BackgroundTester`: an evaluation never holds up serving);
// ranks 1…P are the workers. Point-to-point messages, one tag per message kind;
// vectors travel as raw Float32, a worker's clocks and settings as JSON bytes.
//
// The protocol:
// - Start: rank 0 sends every worker the run's settings; each loads its data and answers READY; rank 0 starts its
//   clock, evaluates the starting point and sends every worker its state (fresh, or restored from a checkpoint).
//   Worker ranks need no run directory, only the data set.
// - Training: a request carries the worker's vector followed by a trailer (its last loss; its clock counting
//   the step in progress when the request completes the master's part of it: the tester's step count; and the
//   seconds it has spent on its exchanges so far, for the records' communication_seconds); the
//   master answers every request,
//   with the new vector or with REJECT when the payload is not finite (the worker then stops, and the center is
//   untouched). The master's side is `MasterState`, the same code as the other backends.
// - Control, read by a worker between two steps: PAUSE (send your state, then wait for RESUME or FINISH), STOP
//   (send your state, then wait for FINISH). A periodic checkpoint is a PAUSE of every worker, a signal a STOP.
// - End: a worker that is done (or was signalled itself) sends its state and waits for FINISH. When every worker
//   has, rank 0 evaluates, checkpoints the whole system and sends FINISH, so every rank exits and none waits on a
//   finished one.
// - Sync-EASGD and DiLoCo step in lockstep through rank 0, pausing and stopping only at a round (Lockstep.swift).
// Waiting ranks poll (MPI_Iprobe, then a short sleep) rather than spin in MPI_Recv: on a machine with fewer cores
// than ranks, a spinning master or a worker waiting for its answer would take cores from the workers computing.

import CMPI
import Dispatch
import Elastic
import Engine
import Foundation
import Training

enum MessageTag: Int32 {
    case exchange = 1      // worker → master: x_i, loss;   master → worker: x_i after the elastic exchange
    case push = 2          // worker → master: acc, loss;   master → worker: the center
    case lookahead = 3     // worker → master: loss;        master → worker: x̃ + δV
    case gradient = 4      // worker → master: g, loss;     master → worker: empty acknowledgement
    case state = 5         // either way: a `StateMessage` (JSON), followed by the worker's buffers (.stateBuffers)
    case reject = 6        // master → worker: the payload was not finite
    case control = 7       // master → worker: one `Control` code
    case settings = 8      // master → worker: the run's settings (JSON)
    case stateBuffers = 9  // parameters, velocity, accumulator, multiplier: one message each
    case ready = 10        // worker → master: its data is loaded (empty)
    case shardStart = 11   // rank 0 → server: a `ShardStart` (JSON), then its slices (.stateBuffers)
    case snapshot = 12     // rank 0 → server: a step count;  server → rank 0: its slice of the model at that count
    case gather = 13       // rank 0 → server: empty;         server → rank 0: `ShardReport` (JSON), then its slices
    case overlappedExchange = 14   // as .exchange, sent before the worker computes its gradient (answered without waiting)
    case ping = 15         // rank 0 → server: empty;         server → rank 0: empty (it is alive and serving)
    case serverSignal = 16 // server or lockstep worker → rank 0: the signal its rank received (one value): stop the system
    case bye = 17          // rank ≥ 1 → rank 0: empty, its last message, sent as it ends
    case rate = 18         // rank 0 → worker: the plateau schedule's scale of the learning rate (8 bytes, a Double)
    case compressedPush = 19   // as .push, the update as the codec's bytes of the server's slice, then the trailer's Floats as bytes
    case round = 20        // lockstep worker → server: its slice of x_i, trailer;  server → worker: its new slice, a `Control` code or 0 (Lockstep.swift)
    case codedExchange = 21    // EASGD with --compress: the codec's bytes of x − s, then the trailer's Floats as bytes;
                               // master → worker: the elastic difference d (Float32)
    case compressedRound = 22  // lockstep DiLoCo with --compress: the codec's bytes of x̃ − x_i, then the trailer's Floats
                               // as bytes; answered as .round, or with --compress-reply as .compressedRound: the codec's
                               // bytes of x̃ − r (r the center as the worker last received it), then the control code
                               // as a Float's bytes
    case roundGo = 23      // rank 0 → server (lockstep, S > 1): the indices of the workers in the round (Floats)
    case roundVerdict = 24 // server → rank 0: 1 if its slice can take the round, else 0
    case roundDecision = 25    // rank 0 → server: 1 if every shard takes the round, else 0 (all answer REJECT)
}

enum Control: Float {
    case pause = 1, resume = 2, stop = 3, finish = 4
}

/// A worker's state with why it is sent.
struct StateMessage: Codable {
    enum Kind: String, Codable {
        case start          // master → worker, at the start
        case paused         // answering PAUSE: the worker waits for RESUME or FINISH
        case done           // its steps are done, it stopped (non-finite), or it answers STOP
        case interrupted    // the worker's own rank received a signal
    }
    var kind: Kind
    var worker: WorkerSnapshot
    var stopReason: String? = nil
    var signal: Int32? = nil
}

public struct MPIError: Error, CustomStringConvertible {
    public var description: String
}

public enum MPIRuntime {
    /// MPI_Init; returns (rank, size).
    public static func start() throws -> (rank: Int, size: Int) {
        var argc: Int32 = 0
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        guard MPI_Init(&argc, &argv) == easgd_mpi_success() else { throw MPIError(description: "MPI_Init failed") }
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(easgd_mpi_comm_world(), &rank)
        MPI_Comm_size(easgd_mpi_comm_world(), &size)
        return (Int(rank), Int(size))
    }

    public static func finish() { MPI_Finalize() }

    public static func abort(_ code: Int32) { MPI_Abort(easgd_mpi_comm_world(), code) }
}

// MARK: Messages

func send(_ buffer: UnsafePointer<Float>, count: Int, to rank: Int, tag: MessageTag) {
    MPI_Send(buffer, Int32(count), easgd_mpi_float(), Int32(rank), tag.rawValue, easgd_mpi_comm_world())
}

func send(_ data: Data, to rank: Int, tag: MessageTag) {
    data.withUnsafeBytes { _ = MPI_Send($0.baseAddress, Int32(data.count), easgd_mpi_byte(), Int32(rank), tag.rawValue, easgd_mpi_comm_world()) }
}

func send(_ control: Control, to rank: Int) {
    var code = control.rawValue
    send(&code, count: 1, to: rank, tag: .control)
}

/// Waits for a message from `source` (or any source) with one of `tags` (or any tag), polling; returns its status.
func probe(from source: Int32 = easgd_mpi_any_source(), tags: [MessageTag]? = nil) -> MPI_Status {
    while true { if let status = probe(from: source, tags: tags, seconds: 3600) { return status } }
}

/// Calls `done` until it says true (then true) or `seconds` pass (then false): a few hundred fast calls first
/// (answers usually come at once), then sleeps of up to 0.2 ms. The one polling loop of the master.
func poll(seconds: Double, _ done: () -> Bool) -> Bool {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
    var idle: UInt32 = 0
    while true {
        if done() { return true }
        if idle < 200 { idle += 1 } else { usleep(min(20 + (idle - 200), 200)); idle += 5 }
        if idle % 64 == 0, DispatchTime.now().uptimeNanoseconds > deadline { return false }
    }
}

/// Sends to a worker without waiting forever: a large message to a worker stopped between its request and this
/// reply would wait in MPI's rendezvous protocol. False when it is not taken within `seconds`.
func sendWatched(_ buffer: UnsafePointer<Float>, count: Int, to rank: Int, tag: MessageTag, seconds: Double) -> Bool {
    sendWatched(UnsafeRawPointer(buffer), count: count, of: easgd_mpi_float(), to: rank, tag: tag, seconds: seconds)
}

/// `sendWatched` for bytes (a compressed reply).
func sendWatched(bytes: UnsafeRawPointer, count: Int, to rank: Int, tag: MessageTag, seconds: Double) -> Bool {
    sendWatched(bytes, count: count, of: easgd_mpi_byte(), to: rank, tag: tag, seconds: seconds)
}

private func sendWatched(_ buffer: UnsafeRawPointer, count: Int, of type: MPI_Datatype, to rank: Int, tag: MessageTag, seconds: Double) -> Bool {
    var request = MPI_Request(bitPattern: 0)
    MPI_Isend(buffer, Int32(count), type, Int32(rank), tag.rawValue, easgd_mpi_comm_world(), &request)
    var flag: Int32 = 0
    return poll(seconds: seconds) {
        MPI_Test(&request, &flag, easgd_mpi_status_ignore())
        return flag != 0
    }
}

/// The same, giving up (nil) after `seconds`, so that the master can look at signals and silent workers meanwhile.
func probe(from source: Int32 = easgd_mpi_any_source(), tags: [MessageTag]? = nil, seconds: Double) -> MPI_Status? {
    var status = MPI_Status()
    var flag: Int32 = 0
    let tagValues = tags?.map(\.rawValue) ?? [easgd_mpi_any_tag()]
    let found = poll(seconds: seconds) {
        tagValues.contains { tag in
            MPI_Iprobe(source, tag, easgd_mpi_comm_world(), &flag, &status)
            return flag != 0
        }
    }
    return found ? status : nil
}

/// True when a message from `source` with `tag` is waiting.
func waiting(from source: Int, tag: MessageTag) -> Bool {
    var status = MPI_Status()
    var flag: Int32 = 0
    MPI_Iprobe(Int32(source), tag.rawValue, easgd_mpi_comm_world(), &flag, &status)
    return flag != 0
}

/// Receives the message `status` announced into `buffer`; returns its count of Floats.
func receive(_ status: MPI_Status, into buffer: UnsafeMutablePointer<Float>, capacity: Int) throws -> Int {
    var status = status
    var count: Int32 = 0
    MPI_Get_count(&status, easgd_mpi_float(), &count)
    guard count >= 0, Int(count) <= capacity else {
        throw MPIError(description: "a message of \(count) values from rank \(status.MPI_SOURCE) exceeds \(capacity)")
    }
    MPI_Recv(buffer, count, easgd_mpi_float(), status.MPI_SOURCE, status.MPI_TAG, easgd_mpi_comm_world(), &status)
    return Int(count)
}

func receive(from rank: Int, tag: MessageTag, into buffer: UnsafeMutablePointer<Float>, capacity: Int) throws -> Int {
    try receive(probe(from: Int32(rank), tags: [tag]), into: buffer, capacity: capacity)
}

func receiveData(from rank: Int, tag: MessageTag) -> Data {
    receiveData(probe(from: Int32(rank), tags: [tag]))
}

/// Receives the bytes of the message `status` announced.
func receiveData(_ status: MPI_Status) -> Data {
    var status = status
    let (rank, tag) = (status.MPI_SOURCE, status.MPI_TAG)
    var count: Int32 = 0
    MPI_Get_count(&status, easgd_mpi_byte(), &count)
    var data = Data(count: Int(count))
    data.withUnsafeMutableBytes { _ = MPI_Recv($0.baseAddress, count, easgd_mpi_byte(), rank, tag, easgd_mpi_comm_world(), &status) }
    return data
}

func receiveControl(from rank: Int = 0) throws -> Control {
    var code: Float = 0
    _ = try receive(from: rank, tag: .control, into: &code, capacity: 1)
    guard let control = Control(rawValue: code) else { throw MPIError(description: "unknown control code \(code)") }
    return control
}

func send(_ message: StateMessage, of w: WorkerState<Float>, to rank: Int) throws {
    send(try JSONEncoder().encode(message), to: rank, tag: .state)
    for b in w.transferBuffers { send(b.base, count: b.count, to: rank, tag: .stateBuffers) }
}

/// A state message that began arriving and then stopped (its sender stalled between the parts).
struct PartialState: Error {}

/// Receives a state message from `rank` into `w` (its buffers and clocks). With `partsWithin`, each buffer after the
/// first part must arrive within that many seconds, else `PartialState` (the master's stall limit: a worker stopped
/// between the parts of its state must not hold rank 0 forever).
func receiveState(from rank: Int, into w: WorkerState<Float>, partsWithin seconds: Double? = nil) throws -> StateMessage {
    let message = try JSONDecoder().decode(StateMessage.self, from: receiveData(from: rank, tag: .state))
    for b in w.transferBuffers {
        if let seconds, probe(from: Int32(rank), tags: [.stateBuffers], seconds: seconds) == nil { throw PartialState() }
        let count = try receive(from: rank, tag: .stateBuffers, into: b.base, capacity: b.count)
        guard count == b.count else { throw MPIError(description: "rank \(rank) sent a state buffer of \(count) values, expected \(b.count)") }
    }
    w.apply(message.worker)
    return message
}

// MARK: The master

public enum MPIBackend {
    // MARK: A worker

    /// Rank r ≥ 1: worker r − 1. Receives the settings and its state from rank 0, loads the data, and steps with
    /// the shared `WorkerState.step` (reaching rank 0 through messages) until its steps are done, it stops, or rank
    /// 0 says STOP; then sends its final state and waits for FINISH. Returns why it stopped early, if it did.
    /// With `servers` S, rank r ≥ S is worker r − S, and each request goes to every server (its slice of the vector).
    public static func worker(rank: Int, servers: Int = 1) throws -> String? {
        var settings = try JSONDecoder().decode(RunSettings.self, from: receiveData(from: 0, tag: .settings))
        let spec = try settings.fixingConvolutions()
        let data = try DataSource.load(settings.data).trainSubset(settings.trainSubset, seed: settings.seed)
        let preprocessing = try Preprocessing(train: data.train, input: spec.input)
        let replica = try ParallelTrainingRun.makeReplica(settings: settings, spec: spec, data: data, preprocessing: preprocessing,
                                                          worker: rank - servers)
        let w = WorkerState<Float>(index: rank - servers, settings: settings.engine, objective: replica)
        var none: Float = 0
        send(&none, count: 0, to: 0, tag: .ready)
        // Sync-EASGD and DiLoCo step in lockstep: rounds through rank 0, pauses and stops only at a round.
        let lockstep = settings.engine.method.stepsTogether
        var rounds = LockstepLink(count: lockstep ? w.parameters.count : 0, servers: servers, codes: lockstep && settings.engine.compression != nil)
        _ = try receiveState(from: 0, into: w)
        // A compressed DiLoCo round sends x̃ − x_i: the worker is told the center its round started from.
        if rounds.codes {
            let got = try receive(from: 0, tag: .stateBuffers, into: rounds.start.base, capacity: rounds.start.count)
            guard got == rounds.start.count else { throw MPIError(description: "rank 0 sent a center of \(got) values") }
        }
        let overlap = ProcessInfo.processInfo.environment["EASGD_MPI_OVERLAP"] != "0"
        // A coded exchange (EASGD with --compress) is not overlapped: its message is x − s, taken after the gradient.
        var link = MessageLink(layout: ShardLayout(count: w.parameters.count, servers: servers),
                               overlaps: overlap && settings.engine.method.takesGradientBeforeExchange && !settings.engine.codesExchange,
                               codec: settings.engine.compression?.codec)
        // A compressed update travels as the codec's bytes, one slice per server (the worker encodes it so).
        if settings.engine.compression != nil {
            precondition(w.wire.slices.count == servers, "the worker encodes one slice per server")
            link.wire = w.wire
        }
        // A compressed reply arrives as the codec's bytes of x̃ − r, one slice from each server; the link decodes
        // each into its slice of r and x.
        if let codec = settings.engine.replyCompression {
            link.reply = MessageLink.Reply(codec: codec, reference: w.replyReference)
            // Lockstep DiLoCo: the round's answer is the codec's bytes of x̃ − r and the control code.
            if lockstep { rounds.reply = link.reply }
        }
        var stopReason: String? = nil
        var ordered: Control? = nil           // the pause or stop a round's answer carried
        var toldSignal = false
        // The same schedule as the other backends', at this worker's clock; the plateau's scale as rank 0 sends it.
        let rate = ParallelTrainingRun.learningRate(settings, stepsPerEpoch: replica.stream.batchesPerEpoch)
        var scale = 1.0
        let plateau = rate.schedule.followsEvaluations      // only then does rank 0 send a scale
        func takeScale() {
            while plateau && waiting(from: 0, tag: .rate) {
                let data = receiveData(from: 0, tag: .rate)
                if data.count == 8 { scale = Double(bitPattern: data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) }
            }
        }

        func finish(_ kind: StateMessage.Kind, signal: Int32? = nil) throws {
            try send(StateMessage(kind: kind, worker: w.snapshot, stopReason: stopReason, signal: signal), of: w, to: 0)
            while try receiveControl() != .finish {}       // a PAUSE or STOP may have crossed our state
            takeScale()                                    // none is left unreceived
        }
        while true {
            let control = try ordered ?? (waiting(from: 0, tag: .control) ? receiveControl() : nil)
            ordered = nil
            if let control {
                switch control {
                case .pause:
                    try send(StateMessage(kind: .paused, worker: w.snapshot), of: w, to: 0)
                    switch try receiveControl() {
                    case .resume: continue
                    case .finish: return stopReason
                    case let other: throw MPIError(description: "a paused worker was sent \(other)")
                    }
                case .stop:
                    try finish(.done)
                    return stopReason
                case let other:
                    throw MPIError(description: "a running worker was sent \(other)")
                }
            }
            if let sig = StopSignal.pending {
                if !lockstep {
                    try finish(.interrupted, signal: sig)
                    return stopReason
                }
                // In lockstep the system stops at the next round: rank 0 is told, and this worker steps on to it.
                if !toldSignal {
                    var value = Float(sig)
                    send(&value, count: 1, to: 0, tag: .serverSignal)
                    toldSignal = true
                }
            }
            if !w.alive || w.clock >= settings.steps {
                try finish(.done)
                return stopReason
            }
            takeScale()
            let eta = rate.at(w.clock, scale: scale)
            link.clock = w.clock + 1
            link.rate = Float(eta)
            if lockstep {
                let (outcome, answer) = try w.lockstepStep(settings: settings.engine, learningRate: eta, link: &rounds)
                if case .stopped(let reason) = outcome {
                    w.alive = false
                    stopReason = reason
                }
                ordered = answer
            } else if case .stopped(let reason) = w.step(settings: settings.engine, learningRate: eta, link: link) {
                w.alive = false
                stopReason = reason
            }
        }
    }
}

/// What follows a request's vector: the worker's last loss, its clock (as two 16-bit halves, each exact in a
/// Float), its seconds spent on exchanges so far (as a Float and the Float of the remainder: ~48 bits), and the
/// learning rate of its step (MDOWNPOUR's gradient is applied by the master at the worker's rate; a Float, as the
/// step uses it).
struct Trailer {
    static let count = 6
    var loss: Double
    var clock: Int
    var communication: Double
    var rate: Float

    init(loss: Double, clock: Int, communication: Double, rate: Float = 0) {
        self.loss = loss
        self.clock = clock
        self.communication = communication
        self.rate = rate
    }

    /// A step count as two Floats, 16 bits below and the rest above, each exact (also a snapshot's step count).
    static func writeClock(_ clock: Int, to p: UnsafeMutablePointer<Float>) {
        p[0] = Float(clock >> 16)
        p[1] = Float(clock & 0xFFFF)
    }
    static func readClock(_ p: UnsafePointer<Float>) -> Int { Int(p[0]) << 16 + Int(p[1]) }

    init(_ p: UnsafePointer<Float>) {
        loss = Double(p[0])
        clock = Trailer.readClock(p + 1)
        communication = Double(p[3]) + Double(p[4])
        rate = p[5]
    }

    func write(to p: UnsafeMutablePointer<Float>) {
        p[0] = Float(loss)
        Trailer.writeClock(clock, to: p + 1)
        let high = Float(communication)
        p[3] = high
        p[4] = Float(communication - Double(high))
        p[5] = rate
    }
}

/// The worker's way to the servers: each request sends its vector (if any) as one slice per server, each slice
/// followed by the trailer, all at once (non-blocking), and waits for every server's answer (its slice of the new
/// vector, or REJECT); a control message from rank 0 waiting meanwhile is left for later. With `overlaps` (EASGD
/// and EAMSGD, which take their gradient at the pre-exchange point) the exchange is sent before the gradient is
/// computed and its answer collected after (`beginExchange`/`endExchange`); `EASGD_MPI_OVERLAP=0` turns that off.
struct MessageLink: MasterLink {
    let layout: ShardLayout
    var n: Int { layout.count }
    let overlapsExchange: Bool
    /// Per server: its slice of the payload and the trailer.
    private let outgoing: [FlatBuffer<Float>]
    /// An overlapped exchange's answer, copied into x once the gradient is computed.
    private let incoming: FlatBuffer<Float>
    /// The worker's clock once the step in progress is done (set before each step). A request reports it when the
    /// master's part of that step is done once it is served; a look-ahead reports one less.
    var clock = 0
    /// The learning rate of the step in progress (set before each step).
    var rate: Float = 0
    /// With compression: the worker's encoded message, slice by slice (one slice per server), which a push sends as
    /// it is — the compressed bytes are what travels.
    var wire: WireMessage? = nil
    /// With a compressed reply: its codec, the worker's reference r (the center as last received) and room for the
    /// bytes (a lockstep answer's control code after them).
    final class Reply {
        let codec: Codec
        let reference: FlatBuffer<Float>
        let bytes: UnsafeMutableRawBufferPointer
        init(codec: Codec, reference: FlatBuffer<Float>) {
            self.codec = codec
            self.reference = reference
            bytes = .allocate(byteCount: codec.encodedBytes(count: reference.count) + 4, alignment: 16)
        }
        deinit { bytes.deallocate() }

        /// A server's compressed reply for entries `range`: the codec's bytes of x̃ − r and `trailing` bytes more,
        /// decoded by the delta-reply rule (x = r += what decodes, on the range); returns the trailing bytes, or
        /// nil (the message taken off the wire and refused) when its size is not the expected one.
        func receive(_ status: MPI_Status, into x: FlatBuffer<Float>, range: Range<Int>, trailing: Int = 0) -> UnsafeRawBufferPointer? {
            var status = status
            var count: Int32 = 0
            MPI_Get_count(&status, easgd_mpi_byte(), &count)
            let expected = codec.encodedBytes(count: range.count)
            guard Int(count) == expected + trailing, expected + trailing <= bytes.count else {
                _ = receiveData(status)          // taken off the wire, and refused
                return nil
            }
            MPI_Recv(bytes.baseAddress, count, easgd_mpi_byte(), status.MPI_SOURCE, status.MPI_TAG, easgd_mpi_comm_world(), &status)
            Compression.acceptDeltaReply(UnsafeRawBufferPointer(rebasing: bytes[0..<expected]), codec: codec,
                                         reference: UnsafeMutableBufferPointer(rebasing: reference.pointer[range]),
                                         into: UnsafeMutableBufferPointer(rebasing: x.pointer[range]))
            return UnsafeRawBufferPointer(rebasing: bytes[expected..<(expected + trailing)])
        }
    }
    var reply: Reply? = nil
    var decodesReplies: Bool { reply != nil }
    private let pending = Pending()
    /// Per server: the bytes of a compressed push (its slice's encoded bytes, then the trailer).
    private let outgoingBytes: ByteBuffers

    private final class ByteBuffers {
        let buffers: [UnsafeMutableRawBufferPointer]
        init(_ buffers: [UnsafeMutableRawBufferPointer]) { self.buffers = buffers }
        var count: Int { buffers.count }
        subscript(k: Int) -> UnsafeMutableRawBufferPointer { buffers[k] }
        deinit { for b in buffers { b.deallocate() } }
    }

    private final class Pending {
        /// Seconds from sending each request to holding its answer, summed (reported in every trailer); for an
        /// overlapped exchange only the time it kept the worker waiting.
        var waited = 0.0
        var sends: [MPI_Request?] = []
        var tag = MessageTag.exchange
        var started: UInt64 = 0
    }

    init(layout: ShardLayout, overlaps: Bool = false, codec: Codec? = nil) {
        self.layout = layout
        overlapsExchange = overlaps
        outgoing = (0..<layout.servers).map { FlatBuffer(count: layout.range($0).count + Trailer.count) }
        outgoingBytes = ByteBuffers(codec.map { c in
            (0..<layout.servers).map { .allocate(byteCount: c.encodedBytes(count: layout.range($0).count) + 4 * Trailer.count, alignment: 16) }
        } ?? [])
        incoming = FlatBuffer(count: overlaps ? layout.count : 0)
        pending.sends = Array(repeating: nil, count: layout.servers)
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Sends the request's slices (non-blocking); with S > 1 a payload that is not finite goes nowhere (false).
    private func post(_ payload: FlatBuffer<Float>?, loss: Double, tag: MessageTag, clock: Int) -> Bool {
        if layout.servers > 1, let payload, !Float.allFinite(payload.readOnly) { return false }
        pending.started = Self.now()
        pending.tag = tag
        let trailer = Trailer(loss: loss, clock: clock, communication: pending.waited, rate: rate)
        for k in 0..<layout.servers {
            let range = layout.range(k), buffer = outgoing[k]
            var count = 0
            if let payload {
                buffer.base.update(from: payload.base + range.lowerBound, count: range.count)
                count = range.count
            }
            trailer.write(to: buffer.base + count)
            MPI_Isend(buffer.base, Int32(count + Trailer.count), easgd_mpi_float(), Int32(k), tag.rawValue,
                      easgd_mpi_comm_world(), &pending.sends[k])
        }
        return true
    }

    /// Every server's answer into `reply` (its slice at the slice's place; nil for an acknowledgement); false if
    /// any server rejected. Counts the seconds since `from` as waited.
    private func collect(into reply: FlatBuffer<Float>?, from start: UInt64) -> Bool {
        var answered = Array(repeating: false, count: layout.servers)
        var accepted = true
        var left = layout.servers
        _ = poll(seconds: 1e9) {
            for k in 0..<layout.servers where !answered[k] {
                var status = MPI_Status()
                var flag: Int32 = 0
                for tag in [pending.tag, .reject] {
                    MPI_Iprobe(Int32(k), tag.rawValue, easgd_mpi_comm_world(), &flag, &status)
                    if flag != 0 { break }
                }
                guard flag != 0 else { continue }
                let range = layout.range(k)
                if let coded = self.reply, let reply, status.MPI_TAG != MessageTag.reject.rawValue,
                   pending.tag == .push || pending.tag == .compressedPush {
                    // The codec's bytes of this server's slice of x̃ − r: r += what decodes, and x = r there.
                    if coded.receive(status, into: reply, range: range) == nil { accepted = false }
                    answered[k] = true
                    left -= 1
                    continue
                }
                // An acknowledgement carries nothing: any buffer will do for its zero values.
                let into = reply.map { $0.base + range.lowerBound } ?? outgoing[k].base
                let got = try? receive(status, into: into, capacity: reply == nil ? 0 : range.count)
                if status.MPI_TAG == MessageTag.reject.rawValue || got == nil { accepted = false }
                answered[k] = true
                left -= 1
            }
            return left == 0
        }
        for k in 0..<layout.servers { MPI_Wait(&pending.sends[k], easgd_mpi_status_ignore()) }
        pending.waited += Double(Self.now() - start) * 1e-9
        return accepted
    }

    private func request(_ payload: FlatBuffer<Float>?, loss: Double, tag: MessageTag, reply: FlatBuffer<Float>?,
                         clock: Int) -> Bool {
        guard post(payload, loss: loss, tag: tag, clock: clock) else { return false }
        return collect(into: reply, from: pending.started)
    }

    func exchange(_ x: FlatBuffer<Float>, loss: Double) -> Bool { request(x, loss: loss, tag: .exchange, reply: x, clock: clock) }
    func pushAndPull(_ acc: FlatBuffer<Float>, into x: FlatBuffer<Float>, loss: Double) -> Bool {
        if let wire, !wire.slices.isEmpty {
            guard postBytes(wire, decoded: acc, loss: loss) else { return false }
            guard collect(into: x, from: pending.started) else { return false }
        } else {
            guard request(acc, loss: loss, tag: .push, reply: x, clock: clock) else { return false }
        }
        acc.fill(0)                 // the master applied it
        return true
    }

    /// EASGD's coded exchange: the wire's bytes go (s += m̂ meanwhile, as the master does on its copy), the
    /// elastic difference d comes back into `message`, and s −= d.
    func codedExchange(_ message: FlatBuffer<Float>, reference: FlatBuffer<Float>, loss: Double) -> Bool {
        guard let wire else { preconditionFailure("a coded exchange sends the codec's bytes") }
        guard postBytes(wire, decoded: message, loss: loss, tag: .codedExchange) else { return false }
        ElasticExchange.codedSent(reference: reference.pointer, message: message.readOnly)
        guard collect(into: message, from: pending.started) else { return false }
        ElasticExchange.codedAnswered(reference: reference.pointer, difference: message.readOnly)
        return true
    }

    /// A compressed push: each server gets its slice's encoded bytes and the trailer (non-blocking). `decoded` is
    /// what the bytes decode to (the worker's accumulator after the codec): with S > 1, one that is not finite goes
    /// nowhere (false), as for an uncompressed request.
    private func postBytes(_ wire: WireMessage, decoded: FlatBuffer<Float>, loss: Double, tag: MessageTag = .compressedPush) -> Bool {
        precondition(wire.slices.count == layout.servers && outgoingBytes.count == layout.servers, "one encoded slice per server")
        if layout.servers > 1, !Float.allFinite(decoded.readOnly) { return false }
        pending.started = Self.now()
        pending.tag = tag
        let trailer = Trailer(loss: loss, clock: clock, communication: pending.waited, rate: rate)
        var floats = [Float](repeating: 0, count: Trailer.count)
        floats.withUnsafeMutableBufferPointer { trailer.write(to: $0.baseAddress!) }
        for k in 0..<layout.servers {
            let bytes = wire.slices[k], out = outgoingBytes[k]
            bytes.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            floats.withUnsafeBytes { (out.baseAddress! + bytes.count).copyMemory(from: $0.baseAddress!, byteCount: 4 * Trailer.count) }
            MPI_Isend(out.baseAddress, Int32(bytes.count + 4 * Trailer.count), easgd_mpi_byte(), Int32(k), tag.rawValue,
                      easgd_mpi_comm_world(), &pending.sends[k])
        }
        return true
    }
    func lookahead(into y: FlatBuffer<Float>, loss: Double) -> Bool {
        request(nil, loss: loss, tag: .lookahead, reply: y, clock: clock - 1)
    }
    func applyGradient(_ g: FlatBuffer<Float>, loss: Double, learningRate: Float) -> Bool {
        precondition(learningRate == rate, "the step's rate travels in the trailer")
        return request(g, loss: loss, tag: .gradient, reply: nil, clock: clock)
    }

    func beginExchange(_ x: FlatBuffer<Float>, loss: Double) -> Bool {
        guard post(x, loss: loss, tag: .overlappedExchange, clock: clock) else { return false }
        pending.waited += Double(Self.now() - pending.started) * 1e-9      // the copies and sends
        return true
    }
    func endExchange(_ x: FlatBuffer<Float>) -> Bool {
        let accepted = collect(into: incoming, from: Self.now())
        if accepted { x.copy(from: incoming) }
        return accepted
    }
}

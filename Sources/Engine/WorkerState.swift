// A worker's state: its parameters, velocity, accumulator, multiplier, clock and objective, each a flat
// buffer that checkpoints and messages move whole; and what the tester hears of it.

import Elastic
import Training

public final class WorkerState<Scalar: NetworkScalar>: @unchecked Sendable {
    public let index: Int
    public let objective: any Objective<Scalar>
    public let parameters: FlatBuffer<Scalar>
    public let velocity: FlatBuffer<Scalar>
    public let accumulator: FlatBuffer<Scalar>
    public let multiplier: FlatBuffer<Scalar>
    /// With compression and error feedback: what the codec lost of the worker's last message.
    public let residual: FlatBuffer<Scalar>
    /// With compression: the encoded bytes of the worker's last message, one array per slice
    /// (`EngineSettings.messageSlices`) — what the MPI backend sends.
    public let wire: WireMessage
    /// With a compressed reply: the center as this worker last received it (r_i), and the reply's bytes.
    public let replyReference: FlatBuffer<Scalar>
    let replyWire: WireMessage
    /// EASGD's coded exchange: the reference s (what the master knows of x) and the message's buffer.
    public let sentReference: FlatBuffer<Scalar>
    let codedMessage: FlatBuffer<Scalar>
    let slices: [Range<Int>]
    let gradient: FlatBuffer<Scalar>
    let lookahead: FlatBuffer<Scalar>
    /// Local steps taken (the worker's clock t_i).
    public var clock = 0
    /// Steps whose exchange happened, and the worker's last loss.
    public var exchanges = 0
    public var lastLoss = Double.nan
    /// False once the worker's loss or parameters stopped being finite; it takes no more steps.
    public var alive = true

    package init(index: Int, settings: EngineSettings, objective: any Objective<Scalar>) {
        let n = objective.parameterCount
        self.index = index
        self.objective = objective
        parameters = FlatBuffer(count: n)
        let innerNesterov = settings.method == .diloco && settings.outer?.innerNesterov == true
        velocity = FlatBuffer(count: settings.method.usesVelocity || innerNesterov ? n : 0)
        accumulator = FlatBuffer(count: settings.method.accumulates ? n : 0)
        multiplier = FlatBuffer(count: settings.method == .admm ? n : 0)
        residual = FlatBuffer(count: settings.compression?.errorFeedback == true ? n : 0)
        let ranges = settings.messageSlices(n)
        slices = ranges
        wire = WireMessage(slices: settings.compression.map { c in ranges.map { [UInt8](repeating: 0, count: c.codec.encodedBytes(count: $0.count)) } } ?? [])
        replyReference = FlatBuffer(count: settings.replyCompression == nil ? 0 : n)
        replyWire = WireMessage(slices: settings.replyCompression.map { c in ranges.map { [UInt8](repeating: 0, count: c.encodedBytes(count: $0.count)) } } ?? [])
        sentReference = FlatBuffer(count: settings.codesExchange ? n : 0)
        codedMessage = FlatBuffer(count: settings.codesExchange ? n : 0)
        gradient = FlatBuffer(count: n)
        lookahead = FlatBuffer(count: settings.method.usesVelocity || settings.method == .mdownpour || innerNesterov ? n : 0)
    }
}

/// A worker's last compressed message as bytes, slice by slice.
public final class WireMessage: @unchecked Sendable {
    public var slices: [[UInt8]]
    public init(slices: [[UInt8]]) { self.slices = slices }
}

/// What the tester hears of a worker: its clock, its exchanges and its last minibatch loss (NaN once stopped).
public struct WorkerProgress: Equatable, Sendable {
    public var clock: Int
    public var exchanges: Int
    public var loss: Double
    /// Wall seconds the worker has spent on its exchanges (waiting for the master and being served), over the
    /// part of the run this process has seen; 0 where nobody measures it (the simulator charges a virtual cost).
    public var communication: Double = 0
}

extension Array where Element == WorkerProgress {
    /// The mean of the live workers' last minibatch losses (stopped workers report NaN and are left out); nil
    /// when none has a finite loss.
    public var meanLoss: Double? {
        let finite = map(\.loss).filter(\.isFinite)
        return finite.isEmpty ? nil : finite.reduce(0, +) / Double(finite.count)
    }
}

extension WorkerState {
    /// Sends `message` through the settings' codec (in place), with this worker's residual; the stochastic rounding's
    /// coins are drawn from the worker's index and clock, so a resumed run draws the same ones.
    /// Each slice is encoded on its own into `wire` (the coins drawn in one sequence, slice after slice).
    package func compress(_ message: UnsafeMutableBufferPointer<Scalar>, _ compression: Compression) {
        var random = SplitMix64.derived(from: UInt64(clock), stream: UInt64(index))
        compression.send(message, residual: residual.pointer, slices: slices, into: &wire.slices, random: &random)
    }

    /// `x` holds the center the master sends; it becomes what the worker decodes of the compressed reply: r_i plus
    /// decode(encode(x̃ − r_i)), slice by slice as the servers would send it, which is also the new r_i. The
    /// stochastic rounding's coins come from the worker's index, its clock and the slice (another stream than its
    /// updates').
    func receiveCompressedReply(_ x: FlatBuffer<Scalar>, _ codec: Codec) {
        Compression.deltaReply(x.pointer, reference: replyReference.pointer, codec: codec, slices: slices, into: &replyWire.slices) {
            Self.replyCoins(clock: clock, worker: index, slice: $0)
        }
    }

    /// DiLoCo: the point this worker's round started from, which its pseudo-gradient is taken against — the center,
    /// or with compressed replies the center as the worker decoded it (its reply reference, which the master keeps
    /// too): what a worker can know, on every backend.
    package func roundStart(center: FlatBuffer<Scalar>) -> FlatBuffer<Scalar> { replyReference.count > 0 ? replyReference : center }

    /// The coins of the reply's slice `slice` (a server's) to `worker` at its clock `clock`: a stream of its own per
    /// slice, so that each server of a sharded center draws its slice's alone (slice 0's is the unsliced reply's).
    package static func replyCoins(clock: Int, worker: Int, slice: Int) -> SplitMix64 {
        SplitMix64.derived(from: UInt64(clock), stream: UInt64(worker) | (1 << 40) | (UInt64(slice) << 48))
    }

    public var progress: WorkerProgress { WorkerProgress(clock: clock, exchanges: exchanges, loss: alive ? lastLoss : .nan) }
}

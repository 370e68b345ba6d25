// `easgd bench exchange`: the parameter server alone, on a synthetic payload of any size (the paper's 61 M
// parameters included), through the same server code as training (`serve`, `MPIBackend.server`, `MessageLink`):
// under mpirun -np S+P, ranks 0…S−1 serve the shards, ranks S…S+P−1 each make K requests of n values in a row,
// waiting `computeSeconds` between two (a sleep: the step's compute happens elsewhere, so that the cores stay with
// the servers). Rank 0 reports the master-side time per request of each shard, the workers' round trips and the
// requests served per second.

import Records
import CMPI
import Dispatch
import Elastic
import Engine
import Foundation
import Training

public struct ExchangeBenchSettings: Sendable {
    public var parameters: Int
    public var requests: Int
    public var computeSeconds: Double
    public var method: Algorithm
    public var servers: Int
    /// DOWNPOUR's pushes through this codec (each worker encodes its update slice by slice; the servers decode).
    public var compression: Compression?

    public init(parameters: Int, requests: Int, computeSeconds: Double, method: Algorithm, servers: Int, compression: Compression? = nil) {
        self.parameters = parameters
        self.requests = requests
        self.computeSeconds = computeSeconds
        self.method = method
        self.servers = servers
        self.compression = compression
    }

    /// What every rank together holds: each worker its vector and the outgoing slices; rank 0 a whole master and its
    /// shard's buffers (message and look-ahead); every other server its shard's three.
    public func memoryBytes(workers p: Int) -> Int? {
        var count = MemoryCount()
        count.add(p, 2, parameters, 4)
        count.add(parameters, 4)
        count.add(3, parameters, 4)       // every shard's center, message and look-ahead buffers, over all shards
        if method == .easgd && compression != nil { count.add(p, 3, parameters, 4) }    // the coded exchange's s (both copies) and message
        return count.total
    }
}

/// What rank 0 measured.
public struct ExchangeBenchResult: Sendable {
    public var servers: Int
    public var workers: Int
    public var parameters: Int
    /// Per shard: requests served and seconds spent on them.
    public var serving: [ServingTime]
    /// Mean of the workers' round trips (sending the request to holding every shard's answer), seconds.
    public var roundTrip: Double
    /// Wall seconds from the start to the last worker's last answer, and requests answered per second.
    public var seconds: Double
    public var requestsPerSecond: Double

    /// The master-side time of one request: its slowest shard's mean.
    public var masterSeconds: Double { serving.compactMap(\.perRequest).max() ?? 0 }
}

private struct WorkerReport: Codable {
    var requests: Int
    var seconds: Double
}

public enum ExchangeBench {
    /// Run on every rank; returns the result on rank 0 (nil elsewhere).
    public static func run(_ b: ExchangeBenchSettings, rank: Int, size: Int) throws -> ExchangeBenchResult? {
        let S = b.servers, p = size - S, n = b.parameters
        var settings = EngineSettings(method: b.method, workers: p, learningRate: 1e-3, tau: 1, weightDecay: 0)
        settings.compression = b.compression
        if b.compression != nil, S > 1 { settings.slices = S }
        let layout = ShardLayout(count: n, servers: S)
        if rank == 0 {
            let master = MasterState<Float>(settings: settings, count: n)
            var rng = SplitMix64(seed: 7)
            for i in 0..<n { master.center[i] = Float(rng.nextUniform() - 0.5) }
            let group = ServerGroup(layout: layout)
            let shard = S == 1 ? master : master.shard(layout.range(0))
            // EASGD's coded exchange: the master's copies of the workers' s, which start at 0 on both sides.
            let coded = settings.codesExchange ? (0..<p).map { _ in FlatBuffer<Float>(count: n) } : []
            try group.start(from: master, workerClocks: Array(repeating: 0, count: p), workerReferences: coded.map { [$0] })
            let server = Server(master: shard, workers: p, sent: group.ownReferences(coded))
            MPI_Barrier(easgd_mpi_comm_world())
            let start = DispatchTime.now().uptimeNanoseconds
            var reports: [WorkerReport] = []
            while reports.count < p {
                let status = probe()
                let found = DispatchTime.now().uptimeNanoseconds
                let source = Int(status.MPI_SOURCE)
                guard let tag = MessageTag(rawValue: status.MPI_TAG), source >= S else {
                    throw MPIError(description: "bench: unexpected message (tag \(status.MPI_TAG)) from rank \(source)")
                }
                if tag == .state {
                    reports.append(try JSONDecoder().decode(WorkerReport.self, from: receiveData(from: source, tag: .state)))
                    continue
                }
                _ = try server.serve(status, tag: tag, worker: source - S, found: found, seconds: StallLimit.seconds)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            server.settle()
            let others = try group.gather(into: master, own: shard)
            group.finish()
            let requests = reports.reduce(0) { $0 + $1.requests }
            return ExchangeBenchResult(servers: S, workers: p, parameters: n, serving: [server.time] + others,
                                       roundTrip: reports.reduce(0) { $0 + $1.seconds } / Double(max(requests, 1)),
                                       seconds: seconds, requestsPerSecond: Double(requests) / seconds)
        }
        if rank < S {
            // The barrier once the shard has arrived (rank 0 sends it before it enters the barrier).
            try MPIBackend.server(rank: rank, servers: S) { MPI_Barrier(easgd_mpi_comm_world()) }
            return nil
        }
        let x = FlatBuffer<Float>(count: n), acc = FlatBuffer<Float>(count: b.method.accumulates ? n : 0)
        var rng = SplitMix64(seed: UInt64(rank))
        for i in 0..<n { x[i] = Float(rng.nextUniform() - 0.5) }
        var link = MessageLink(layout: layout, codec: b.compression?.codec)
        let wire: WireMessage? = b.compression.map { c in WireMessage(slices: settings.messageSlices(n).map { [UInt8](repeating: 0, count: c.codec.encodedBytes(count: $0.count)) }) }
        link.wire = wire
        let sent = FlatBuffer<Float>(count: settings.codesExchange ? n : 0), message = FlatBuffer<Float>(count: settings.codesExchange ? n : 0)
        MPI_Barrier(easgd_mpi_comm_world())
        var waited = 0.0
        for i in 0..<b.requests {
            if b.computeSeconds > 0 { usleep(UInt32(b.computeSeconds * 1e6)) }
            link.clock = i + 1
            let t0 = DispatchTime.now().uptimeNanoseconds
            let ok: Bool
            switch b.method {
            case .downpour:
                acc.fill(1e-6)
                if let c = b.compression, let wire {
                    // The worker's side of a compressed push, slice by slice, as training's (WorkerState.compress).
                    var random = SplitMix64(seed: UInt64(i))
                    c.send(acc.pointer, residual: UnsafeMutableBufferPointer<Float>(start: nil, count: 0), slices: settings.messageSlices(n),
                           into: &wire.slices, random: &random)
                }
                ok = link.pushAndPull(acc, into: x, loss: 0)
            default:
                if let c = b.compression, let wire {
                    // The worker's side of EASGD's coded exchange, as training's (WorkerState.step).
                    ElasticExchange.codedMessage(worker: x.readOnly, reference: sent.readOnly, into: message.pointer)
                    var random = SplitMix64(seed: UInt64(i))
                    c.send(message.pointer, residual: UnsafeMutableBufferPointer<Float>(start: nil, count: 0), slices: settings.messageSlices(n),
                           into: &wire.slices, random: &random)
                    ok = link.codedExchange(message, reference: sent, loss: 0)
                    if ok { ElasticExchange.applyDifference(worker: x.pointer, difference: message.readOnly) }
                } else {
                    ok = link.exchange(x, loss: 0)
                }
            }
            waited += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            guard ok else { throw MPIError(description: "bench: rank 0 rejected request \(i) of rank \(rank)") }
        }
        send(try JSONEncoder().encode(WorkerReport(requests: b.requests, seconds: waited)), to: 0, tag: .state)
        return nil
    }
}

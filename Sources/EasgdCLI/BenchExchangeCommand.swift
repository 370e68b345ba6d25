// easgd bench exchange: the parameter server alone, under mpirun: master-side time per request for S shard servers
// and P workers, on the CIFAR net's payload, the paper's ImageNet net's (61 M parameters) or any size.

import ArgumentParser
import Elastic
import EngineMPI
import Foundation
import Records
import Training

struct BenchExchangeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchange",
        abstract: "Time the MPI parameter server alone: master-side time per request with S shard servers and P workers.",
        discussion: """
            Under mpirun -np S+P: ranks 0…S−1 serve one shard of the center each (the code of `easgd train --backend \
            mpi --servers S`), ranks S…S+P−1 each make --requests elastic exchanges (or DOWNPOUR pushes) of the whole \
            payload in a row, sleeping --compute-seconds before each (the step's compute, kept off the cores). Rank 0 \
            prints, per shard, the mean wall time from finding a request to its answer being taken (the master-side \
            time; a request's is its slowest shard's), the workers' mean round trip, the requests served per second, \
            and the payload bytes that arrived per request (over all shards). With --method downpour --compress \
            FORMAT the pushes travel as the codec's bytes, each shard's slice encoded on its own, as in training; \
            with --method easgd --compress FORMAT the coded exchange's x − s does, slice by slice.
              mpirun --oversubscribe -np 20 easgd bench exchange --servers 4 --payload imagenet --requests 20
            """
    )

    @Option(help: "S shard servers (ranks 0…S−1).") var servers = 1
    @Option(help: ArgumentHelp("cifar, imagenet, a net notation, or a parameter count.", valueName: "payload")) var payload = "cifar"
    @Option(help: "Requests per worker.") var requests = 50
    @Option(help: "Seconds each worker sleeps before each request (0: back to back).") var computeSeconds = 0.0
    @Option(help: "easgd (elastic exchanges) or downpour (push and pull).", transform: parseMethod) var method: Algorithm = .easgd
    @Option(help: ArgumentHelp("downpour: push through this codec (fp16, bf16, int8, int4), encoded slice by slice by the workers and decoded by the servers; easgd: the coded exchange's x − s; the bytes that arrive are counted.", valueName: "format"))
    var compress: CodecFormat?
    @Option(help: "With --compress int8 or int4: values per scale (default \(Codec.defaultBlockSize)).") var compressBlock: Int?

    var parameters: Int? {
        if let n = Int(payload) { return n }
        return (try? NetSpec(parsing: payload)).flatMap(MemoryEstimate.parameterCount)
    }

    func validate() throws {
        guard let size = MPIDriver.launchedWorldSize else { throw ValidationError("run under mpirun -np S+P (S servers, P workers)") }
        guard Limits.servers.contains(servers), size > servers else { throw ValidationError("--servers must be between 1 and 64 and leave at least one worker (mpirun started \(size) ranks)") }
        guard let n = parameters, n >= servers, n <= 1 << 31 - 1 else { throw ValidationError("--payload must name a net or a count between S and 2^31 − 1 (got \(payload))") }
        guard (1...1_000_000).contains(requests) else { throw ValidationError("--requests must be between 1 and 1000000") }
        guard computeSeconds.isFinite, computeSeconds >= 0, computeSeconds <= 60 else { throw ValidationError("--compute-seconds must be in [0, 60]") }
        guard method == .easgd || method == .downpour else { throw ValidationError("--method must be easgd or downpour") }
        if compressBlock != nil, compress == nil || compress == CodecFormat.none { throw ValidationError("--compress-block needs --compress FORMAT") }
        if let compressBlock { try checkLimit("--compress-block", compressBlock, 1...(1 << 20)) }
        let compression = Compression.given(compress, rounding: nil, blockSize: compressBlock, errorFeedback: false)
        let settings = ExchangeBenchSettings(parameters: n, requests: requests, computeSeconds: computeSeconds, method: method, servers: servers,
                                             compression: compression)
        do { try MemoryEstimate.check(settings.memoryBytes(workers: size - servers), for: "the exchange bench") } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let (rank, size) = try MPIRuntime.start()
        let compression = Compression.given(compress, rounding: nil, blockSize: compressBlock, errorFeedback: false)
        let settings = ExchangeBenchSettings(parameters: parameters!, requests: requests, computeSeconds: computeSeconds,
                                             method: method, servers: servers, compression: compression)
        do {
            if let r = try ExchangeBench.run(settings, rank: rank, size: size) {
                let shards = r.serving.map { String(format: "%.2f", 1000 * ($0.perRequest ?? 0)) }.joined(separator: "/")
                let megabytes = Double(r.parameters) * 4 / 1e6
                let arrived = r.serving.map { $0.payloadBytes ?? 0 }.reduce(0, +), served = r.serving.first?.requests ?? 0
                print("servers  workers  parameters  requests  master ms/request  per shard (ms)  round trip ms  requests/s  MB/s each way  bytes in/request")
                let head = String(format: "%7d  %7d  %10d  %8d  %17.2f", r.servers, r.workers, r.parameters,
                                  r.serving.reduce(0) { $0 + $1.requests } / max(r.servers, 1), 1000 * r.masterSeconds)
                let tail = String(format: "%13.2f  %10.1f  %.0f", 1000 * r.roundTrip, r.requestsPerSecond, r.requestsPerSecond * megabytes)
                print(head + "  " + shards.padding(toLength: max(14, shards.count), withPad: " ", startingAt: 0) + "  " + tail
                      + "  " + String(served > 0 ? arrived / served : 0))
            }
        } catch {
            FileHandle.standardError.write(Data("easgd (rank \(rank)): \(error)\n".utf8))
            MPIRuntime.abort(1)
        }
        MPIRuntime.finish()
    }
}

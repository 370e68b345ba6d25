// easgd bench links: what the simulated clock's model of the server links predicts for p workers and S servers
// (throughput and the workers' share of time waiting for the servers), without running a network.

import Records
import ArgumentParser
import Engine
import Foundation
import Training

struct BenchLinksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "links",
        abstract: "Predict throughput and exchange share from the simulated clock's model of the server links.",
        discussion: """
            The model of `easgd train --backend simulated --link-bandwidth B --link-latency L --servers S`: each of S \
            servers serves one request at a time, costing L + 8·(n/S)/B seconds for its slice of the n parameters; \
            each worker computes --compute-seconds per step and sends a request every τ steps, in the simulator's \
            order. Calibrate L and B with `easgd bench exchange` (see benchmarks/README.md).
              easgd bench links --payload imagenet --latency 0.0003 --bandwidth 1.6e9 \\
                --compute-seconds 1.2 --workers 4,16,64 --servers 1,4,8 --tau 1,10
            """
    )

    @Option(help: "cifar, imagenet, a net notation, or a parameter count.") var payload = "cifar"
    @Option(help: "Seconds per request per server.") var latency: Double
    @Option(help: "Bytes per second per server.") var bandwidth: Double
    @Option(help: "Seconds of compute per worker step.") var computeSeconds: Double
    @Option(help: "Worker counts, comma-separated.") var workers = WorkerList(argument: "4,8,16,32,64")!
    @Option(help: "Server counts, comma-separated.") var servers = WorkerList(argument: "1,2,4,8")!
    @Option(help: "Communication periods, comma-separated.") var tau = WorkerList(argument: "1,10")!
    @Option(help: "Steps per worker simulated.") var steps = 400

    var parameters: Int? {
        if let n = Int(payload) { return n }
        return (try? NetSpec(parsing: payload)).flatMap(MemoryEstimate.parameterCount)
    }

    func validate() throws {
        guard let n = parameters, n >= 64 else { throw ValidationError("--payload must name a net or a count of at least 64 (got \(payload))") }
        guard latency.isFinite, latency >= 0 else { throw ValidationError("--latency must be a finite number ≥ 0") }
        guard bandwidth.isFinite, bandwidth > 0 else { throw ValidationError("--bandwidth must be a positive finite number") }
        guard computeSeconds.isFinite, computeSeconds > 0 else { throw ValidationError("--compute-seconds must be a positive finite number") }
        for p in workers.counts { guard (1...1024).contains(p) else { throw ValidationError("--workers values must be between 1 and 1024") } }
        for s in servers.counts { guard (1...64).contains(s), s <= n else { throw ValidationError("--servers values must be between 1 and 64") } }
        for t in tau.counts { guard (1...100_000).contains(t) else { throw ValidationError("--tau values must be between 1 and 100000") } }
        guard (1...100_000).contains(steps) else { throw ValidationError("--steps must be between 1 and 100000") }
    }

    func run() throws {
        let n = parameters!
        print(String(format: "payload %d parameters (%.1f MB), compute %.4g s per step, latency %.4g s, bandwidth %.4g bytes/s per server",
                     n, Double(4 * n) / 1e6, computeSeconds, latency, bandwidth))
        print("tau  workers  servers  master s/request  steps/s  exchange share  speed-up over p = 1")
        for t in tau.counts {
            for p in workers.counts {
                for s in servers.counts {
                    let links = ServerLinks(servers: s, latency: latency, bandwidth: bandwidth)
                    let one = links.predict(workers: 1, tau: t, compute: computeSeconds, entries: n, steps: steps)
                    let r = links.predict(workers: p, tau: t, compute: computeSeconds, entries: n, steps: steps)
                    let service = (0..<s).map { links.serviceSeconds(entries: n, shard: $0) }.max() ?? 0
                    print(String(format: "%3d  %7d  %7d  %16.4f  %7.2f  %13.1f %%  %6.2f", t, p, s, service, r.stepsPerSecond,
                                 100 * r.exchangeShare, r.stepsPerSecond / one.stepsPerSecond))
                }
            }
        }
    }
}

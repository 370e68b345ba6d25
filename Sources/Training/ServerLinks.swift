// The parameter server's links, modelled for the simulated clock: S servers, each holding one contiguous slice of
// the n parameters (the `ShardLayout` the MPI backend uses) and serving one request at a time, first come first
// served. A request occupies server k for latency + (its slice's bytes, both ways)/bandwidth; the worker goes on
// when its last shard has answered. The two constants are calibrated on `easgd bench exchange` (benchmarks/README).

/// Shard k of S holds entries range(k) of every master buffer: contiguous, sizes differing by at most one.
public struct ShardLayout: Equatable, Sendable {
    public let count: Int
    public let servers: Int

    public init(count: Int, servers: Int) {
        precondition(servers >= 1 && count >= servers)
        self.count = count
        self.servers = servers
    }

    public func range(_ k: Int) -> Range<Int> {
        let q = count / servers, r = count % servers
        let lower = k * q + min(k, r)
        return lower..<(lower + q + (k < r ? 1 : 0))
    }
}

public struct ServerLinks: Codable, Equatable, Sendable {
    public var servers: Int
    /// Seconds per request per server, whatever its size (messages, matching, waking up).
    public var latency: Double
    /// Bytes per second each server moves and applies (its slice in and out, Float32).
    public var bandwidth: Double

    public init(servers: Int = 1, latency: Double, bandwidth: Double) {
        self.servers = servers
        self.latency = latency
        self.bandwidth = bandwidth
    }

    /// Server k's time for one request of `entries` parameters in all, each moving `bytesPerEntry` in and out
    /// together (8: Float32 both ways; less when the request is compressed).
    public func serviceSeconds(entries: Int, shard k: Int, bytesPerEntry: Double = 8) -> Double {
        latency + bytesPerEntry * Double(ShardLayout(count: entries, servers: servers).range(k).count) / bandwidth
    }

    /// Books one request sent at `time` on every server (`free`: when each is next free, updated); returns when the
    /// last one has answered.
    public func book(at time: Double, entries: Int, bytesPerEntry: Double = 8, free: inout [Double]) -> Double {
        if free.count != servers { free = Array(repeating: 0, count: servers) }
        var done = time
        for k in 0..<servers {
            free[k] = max(free[k], time) + serviceSeconds(entries: entries, shard: k, bytesPerEntry: bytesPerEntry)
            done = max(done, free[k])
        }
        return done
    }

    /// What the simulated clock predicts for p workers that each take `steps` steps of `compute` seconds, with a
    /// request every τ steps, on these links; in the simulator's order (the earliest worker next).
    public func predict(workers p: Int, tau: Int, compute: Double, entries: Int, steps: Int) -> LinkPrediction {
        var times = Array(repeating: 0.0, count: p), clocks = Array(repeating: 0, count: p)
        var free: [Double] = []
        var waiting = 0.0, requests = 0
        while true {
            guard let i = times.indices.filter({ clocks[$0] < steps }).min(by: { times[$0] < times[$1] }) else { break }
            let t = times[i] + compute
            if clocks[i] % tau == 0 {
                let done = book(at: t, entries: entries, free: &free)
                waiting += done - t
                requests += 1
                times[i] = done
            } else {
                times[i] = t
            }
            clocks[i] += 1
        }
        let seconds = times.max() ?? 0
        return LinkPrediction(stepsPerSecond: Double(p * steps) / seconds, exchangeShare: waiting / times.reduce(0, +),
                              requestsPerSecond: Double(requests) / seconds)
    }
}

public struct LinkPrediction: Equatable, Sendable {
    /// Worker steps per second, all workers together.
    public var stepsPerSecond: Double
    /// The share of the workers' time spent waiting for the servers.
    public var exchangeShare: Double
    public var requestsPerSecond: Double
}

// The simulated clock's model of the server links against closed forms: a FIFO queue per server, shards that
// split the vector like the MPI backend's, and the throughput of p workers below and above the servers' capacity.

@testable import Engine
import Training
import Testing

@Test func shardsSplitTheVectorContiguouslyAndEvenly() {
    for (n, s) in [(10, 1), (10, 3), (7, 7), (351_946, 4), (61_128_808, 8)] {
        let layout = ShardLayout(count: n, servers: s)
        let ranges = (0..<s).map(layout.range)
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == n)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        let sizes = ranges.map(\.count)
        #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1 && sizes.allSatisfy { $0 >= 1 }, "\(sizes)")
    }
}

@Test func requestsQueueAtEachServerFirstComeFirstServed() {
    // 800 parameters over 2 servers: 400 each, 3,200 bytes in and out per request at 3,200 bytes/s: 1 s, plus 0.5 s.
    let links = ServerLinks(servers: 2, latency: 0.5, bandwidth: 3_200)
    #expect(links.serviceSeconds(entries: 800, shard: 0) == 1.5 && links.serviceSeconds(entries: 800, shard: 1) == 1.5)
    var free: [Double] = []
    #expect(links.book(at: 0, entries: 800, free: &free) == 1.5)     // both shards at once
    #expect(links.book(at: 1, entries: 800, free: &free) == 3.0)     // waits for both to be free at 1.5
    #expect(links.book(at: 10, entries: 800, free: &free) == 11.5)   // idle servers serve at once
    #expect(free == [11.5, 11.5])
}

@Test func predictedThroughputFollowsTheQueueBelowAndAboveCapacity() {
    // τ = 1, one server taking s = 0.1 s a request, steps of c = 1 s. Below capacity (p·s < c + s) every worker
    // cycles in c + s: p/(c + s) steps per second. Above it the server is the bottleneck: 1/s.
    let links = ServerLinks(servers: 1, latency: 0.1, bandwidth: .infinity)
    let below = links.predict(workers: 4, tau: 1, compute: 1, entries: 1000, steps: 2000)
    #expect(abs(below.stepsPerSecond / (4 / 1.1) - 1) < 0.002, "\(below.stepsPerSecond)")
    #expect(abs(below.exchangeShare - 0.1 / 1.1) < 0.002, "\(below.exchangeShare)")
    let above = links.predict(workers: 20, tau: 1, compute: 1, entries: 1000, steps: 2000)
    #expect(abs(above.stepsPerSecond / 10 - 1) < 0.002 && abs(above.requestsPerSecond / 10 - 1) < 0.002, "\(above.stepsPerSecond)")
    // Every τ-th step requests: at τ = 10 the same 20 workers need 20/10.1 < 10 requests a second, below capacity.
    let sparse = links.predict(workers: 20, tau: 10, compute: 1, entries: 1000, steps: 2000)
    #expect(abs(sparse.stepsPerSecond / (20 * 10 / 10.1) - 1) < 0.01, "\(sparse.stepsPerSecond)")
    // Two servers halve the per-request time of a large payload: 8·n/2 bytes each at 8n/0.2 bytes/s.
    let two = ServerLinks(servers: 2, latency: 0, bandwidth: 8 * 1000 / 0.1)
    #expect(abs(two.serviceSeconds(entries: 1000, shard: 0) - 0.05) < 1e-12)
    let doubled = two.predict(workers: 20, tau: 1, compute: 1, entries: 1000, steps: 2000)
    // Capacity 20 requests a second, demand 20/1.05: below capacity, so p/(c + s) again.
    #expect(abs(doubled.stepsPerSecond / (20 / 1.05) - 1) < 0.005, "\(doubled.stepsPerSecond)")
}

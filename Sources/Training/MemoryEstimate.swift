// Memory is estimated before it is allocated: what a run (its replicas, evaluators and optimizer or worker
// buffers) will hold is counted from the spec with overflow-safe arithmetic, and refused in one line, with the
// estimate and the limit, when it exceeds a stated share of the machine's physical memory.

import Foundation
import Records

/// A sum of products of counts, where an overflow makes the total unknown (nil) instead of trapping.
public struct MemoryCount: Sendable {
    public private(set) var total: Int? = 0

    public init() {}

    public mutating func add(_ factors: Int...) { add(factors) }

    public mutating func add(_ factors: [Int]) {
        guard let t = total else { return }
        var product = 1
        for f in factors {
            let (p, overflow) = product.multipliedReportingOverflow(by: f)
            if overflow || f < 0 { total = nil; return }
            product = p
        }
        let (sum, overflow) = t.addingReportingOverflow(product)
        total = overflow ? nil : sum
    }

    public mutating func add(_ count: Int?) {
        guard let count else { total = nil; return }
        add(count, 1)
    }

    public func scaled(by k: Int) -> Int? {
        total.flatMap { let (p, overflow) = $0.multipliedReportingOverflow(by: k); return overflow ? nil : p }
    }
}

public enum MemoryEstimate {
    /// The share of physical memory one command may plan to use.
    public static let share = 0.75

    /// `share` of physical memory, or `EASGD_MEMORY_LIMIT_MIB` when set (tests, shared machines).
    public static var limitBytes: Int {
        if let mib = environmentLimitMiB { return mib << 20 }
        return Int(Double(ProcessInfo.processInfo.physicalMemory) * share)
    }

    private static var environmentLimitMiB: Int? {
        guard let text = ProcessInfo.processInfo.environment["EASGD_MEMORY_LIMIT_MIB"], let mib = Int(text), mib > 0, mib < 1 << 40 else { return nil }
        return mib
    }

    /// The limit in words: "the limit of N MiB (75 % of physical memory)", or "(EASGD_MEMORY_LIMIT_MIB)" when set.
    public static var limitDescription: String {
        "the limit of \(mib(limitBytes)) MiB (\(environmentLimitMiB != nil ? "EASGD_MEMORY_LIMIT_MIB" : "\(Int(share * 100)) % of physical memory"))"
    }

    /// The bytes of a training setup: `replicas` networks at `batch` images, `evaluators` at the evaluation batch,
    /// and `vectors` parameter-sized Float vectors (parameters, gradients, velocities, averages, the center).
    public static func training(_ spec: NetSpec, replicas: Int, batch: Int, evaluators: Int, vectors: Int) -> Int? {
        let replica = Network<Float>.memoryBytes(spec, maxBatch: batch)
        let evaluator = Network<Float>.memoryBytes(spec, maxBatch: Evaluator.batch)
        var total = MemoryCount()
        if let replica { total.add(replicas, replica) } else { total.add(nil) }
        if let evaluator { total.add(evaluators, evaluator) } else { total.add(nil) }
        total.add(vectors, parameterCount(spec) ?? Int.max, MemoryLayout<Float>.stride)
        return total.total
    }

    /// The parameters of `spec` (nil on overflow).
    public static func parameterCount(_ spec: NetSpec) -> Int? {
        var count = MemoryCount()
        for layer in Network<Float>.layers(spec) { count.add(layer.parameterCount) }
        return count.total
    }

    /// Bytes a stability map holds per grid point until its files are written (the radius, its CSV row and the
    /// figure's copy): 131 measured (maximum resident size of `easgd map` at 500² and 1500² points, EASGD p = 4),
    /// rounded up.
    public static let bytesPerMapPoint = 160
    /// The same for `variance-map` (two CSV rows per point, one for the data and one for its panel): 236
    /// measured at 200² and 800² points per panel, 15 panels, rounded up.
    public static let bytesPerVariancePoint = 320

    /// `points` × `bytesPerPoint` (nil on overflow).
    public static func grid(points: Int..., bytesPerPoint: Int) -> Int? {
        var count = MemoryCount()
        count.add(points + [bytesPerPoint])
        return count.total
    }

    /// What reading a file of `bytes` bytes whole and decoding it holds at once: the file, a copy, and what is
    /// decoded from it.
    public static func reading(fileBytes bytes: Int) -> Int? {
        var count = MemoryCount()
        count.add(3, bytes)
        return count.total
    }

    /// Refuses a plan above the limit, in one line naming it, the estimate and the limit.
    public static func check(_ bytes: Int?, for what: String) throws {
        let limit = limitBytes
        guard let bytes else {
            throw SettingsError("\(what) would need more memory than can be counted, more than \(limitDescription)")
        }
        guard bytes <= limit else {
            throw SettingsError("\(what) would need about \(mib(bytes)) MiB, more than \(limitDescription)")
        }
    }

    static func mib(_ bytes: Int) -> String { String(bytes >> 20) }
}

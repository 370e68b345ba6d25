// Memory is estimated before it is allocated: what a command will hold is counted with overflow-safe arithmetic
// and refused in one line, with the estimate and the limit, when it exceeds a stated share of the machine's
// physical memory. The counts themselves live with what they count: a run's networks and buffers in Training
// (MemoryEstimate+Training), a map's points in Analysis (MemoryEstimate+Maps).

import Foundation

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

    public static func mib(_ bytes: Int) -> String { String(bytes >> 20) }
}

// Stability maps: the spectral radius of the round map over a grid of (η, ρ) or (η, α),
// parallel over all cores, each thread with its own LAPACK workspace.

import Dispatch
import Foundation
import Synchronization

/// What the second axis of a map holds.
public enum CouplingAxis: String, Sendable {
    case rho
    case alpha

    public func coupling(_ value: Double) -> Coupling {
        self == .rho ? .rho(value) : .alpha(value)
    }
}

public struct StabilityMapSpec: Sendable, Equatable {
    public var method: Method
    public var workers: Int
    public var h: Double
    public var eta: GridAxis
    public var second: GridAxis
    public var secondKind: CouplingAxis

    public init(method: Method, workers: Int, h: Double = 1, eta: GridAxis, second: GridAxis, secondKind: CouplingAxis) {
        self.method = method
        self.workers = workers
        self.h = h
        self.eta = eta
        self.second = second
        self.secondKind = secondKind
    }

    public func scheme(eta: Double, second: Double) -> any RoundRobinScheme {
        makeScheme(method, workers: workers, eta: eta, coupling: secondKind.coupling(second), h: h)
    }
}

public struct StabilityMap: Sendable {
    public let spec: StabilityMapSpec
    /// Row-major: `radii[j * eta.count + i]` is the radius at (η_i, second_j).
    public let radii: [Double]
    public let seconds: Double
    /// Points solved from scratch by LAPACK and points followed by root tracking.
    public let lapackSolves: Int
    public let trackedSolves: Int

    public var etaValues: [Double] { spec.eta.values }
    public var secondValues: [Double] { spec.second.values }
    public func radius(etaIndex i: Int, secondIndex j: Int) -> Double { radii[j * spec.eta.count + i] }
    public var maxRadius: Double { radii.max() ?? .nan }
    public var minRadius: Double { radii.min() ?? .nan }
    /// Fraction of grid points with ρ(F) > 1.
    public var unstableFraction: Double {
        Double(radii.lazy.filter { $0 > 1 }.count) / Double(radii.count)
    }
}

public enum StabilityMapError: Error, CustomStringConvertible {
    case nonFinite(eta: Double, second: Double)
    public var description: String {
        switch self {
        case .nonFinite(let eta, let second):
            return "the spectral radius is not finite at eta = \(eta), second parameter = \(second)"
        }
    }
}

/// A buffer written by several threads at disjoint indices.
final class SharedResults: @unchecked Sendable {
    let pointer: UnsafeMutableBufferPointer<Double>
    init(count: Int) {
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: .nan)
    }
    deinit { pointer.deallocate() }
}

/// Run `body(row, solver)` for rows 0..<rows on every core, rows handed out one at a time.
func forEachRowInParallel(rows: Int, solverDimension: Int, threads: Int? = nil,
                          _ body: @Sendable (Int, EigenSolver) throws -> Void) throws {
    let next = Atomic<Int>(0)
    let failure = Mutex<Error?>(nil)
    let threadCount = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, rows))
    DispatchQueue.concurrentPerform(iterations: threadCount) { _ in
        let solver = EigenSolver(maxDimension: solverDimension)
        while true {
            let row = next.add(1, ordering: .relaxed).oldValue
            if row >= rows { return }
            if failure.withLock({ $0 != nil }) { return }
            do { try body(row, solver) } catch { failure.withLock { $0 = $0 ?? error } }
        }
    }
    if let error = failure.withLock({ $0 }) { throw error }
}

extension StabilityMap {
    /// Compute the map on all cores (`threads` to override).
    public static func compute(_ spec: StabilityMapSpec, threads: Int? = nil) throws -> StabilityMap {
        let start = DispatchTime.now().uptimeNanoseconds
        let columns = spec.eta.count, rows = spec.second.count
        let results = SharedResults(count: rows * columns)
        let etas = spec.eta.values, seconds = spec.second.values
        let dimension = spec.scheme(eta: etas[0], second: seconds[0]).stateDimension
        let lapack = Atomic<Int>(0), tracked = Atomic<Int>(0)
        try forEachRowInParallel(rows: rows, solverDimension: dimension, threads: threads) { j, solver in
            let tracker = RootTracker(solver: solver)
            defer {
                lapack.add(tracker.lapackSolves, ordering: .relaxed)
                tracked.add(tracker.trackedSolves, ordering: .relaxed)
            }
            for i in 0..<columns {
                let scheme = spec.scheme(eta: etas[i], second: seconds[j])
                let r = try tracker.spectralRadius(scheme)
                guard r.isFinite else { throw StabilityMapError.nonFinite(eta: etas[i], second: seconds[j]) }
                results.pointer[j * columns + i] = r
            }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return StabilityMap(spec: spec, radii: Array(results.pointer), seconds: elapsed,
                            lapackSolves: lapack.load(ordering: .relaxed), trackedSolves: tracked.load(ordering: .relaxed))
    }
}

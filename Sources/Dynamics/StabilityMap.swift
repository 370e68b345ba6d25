// Stability maps: the spectral radius of the round map over a grid of (η, ρ) or (η, α),
// parallel over all cores, each thread with its own LAPACK workspace.

import Dispatch
import Elastic
import Foundation
import Synchronization

/// What the second axis of a map holds: the coupling ρ or α, or (for DOWNPOUR, which has no coupling) the
/// number of local steps τ per activation (rounded to an integer); for DiLoCo, whose inner steps H are `tau`, also
/// its outer learning rate η_o or outer momentum β. The raw value names the axis's column in the map's CSV.
public enum CouplingAxis: String, Sendable {
    case rho
    case alpha
    case tau
    case outerRate = "outer_eta"
    case outerMomentum = "outer_momentum"

    public func coupling(_ value: Double) -> Coupling {
        switch self {
        case .rho: .rho(value)
        case .alpha: .alpha(value)
        case .tau, .outerRate, .outerMomentum: .alpha(0)
        }
    }
}

extension OuterSettings {
    /// The synchronous round of p workers taking H inner SGD steps of rate γ on their curvatures, then this outer step.
    public func round(workers: Int, innerRate: Double, innerSteps: Int, curvatures: [Double]) -> SynchronousOuterScheme {
        SynchronousOuterScheme(workers: workers, innerRate: innerRate, innerSteps: innerSteps, curvatures: curvatures,
                               outer: optimizer, outerRate: learningRate, outerMomentum: momentum, delayed: delayed,
                               innerMomentum: innerMomentum, keepsInnerVelocity: keepsInnerVelocity)
    }
}

public struct StabilityMapSpec: Sendable, Equatable {
    public var method: Algorithm
    public var workers: Int
    public var h: Double
    public var eta: GridAxis
    public var second: GridAxis
    public var secondKind: CouplingAxis
    /// EAMSGD's momentum δ.
    public var momentum: Double
    /// Local steps per activation (unless the second axis is τ).
    public var tau: Int
    public var schedule: Schedule
    /// DiLoCo's outer step (nil for the round-robin methods): its maps are of the synchronous round, η the inner
    /// rate γ and `tau` the inner steps H.
    public var outer: OuterSettings?
    /// The coupling held fixed when the second axis is τ (EASGD and EAMSGD over (η, τ); nil: none, as DOWNPOUR).
    public var fixedCoupling: Coupling?

    public init(method: Algorithm, workers: Int, h: Double = 1, eta: GridAxis, second: GridAxis, secondKind: CouplingAxis,
                momentum: Double = 0, tau: Int = 1, schedule: Schedule = .roundRobin, outer: OuterSettings? = nil) {
        self.method = method
        self.workers = workers
        self.h = h
        self.eta = eta
        self.second = second
        self.secondKind = secondKind
        self.momentum = momentum
        self.tau = tau
        self.schedule = schedule
        self.outer = outer
    }

    /// DiLoCo's synchronous round at one point of the map.
    public func outerScheme(eta: Double, second: Double) -> SynchronousOuterScheme {
        guard var o = outer else { preconditionFailure("a DiLoCo map needs its outer step") }
        if secondKind == .outerRate { o.learningRate = second }
        if secondKind == .outerMomentum { o.momentum = second }
        return o.round(workers: workers, innerRate: eta, innerSteps: secondKind == .tau ? max(1, Int(second.rounded())) : tau,
                       curvatures: [h])
    }

    public func scheme(eta: Double, second: Double) -> any RoundRobinScheme {
        let steps = secondKind == .tau ? max(1, Int(second.rounded())) : tau
        var o = outer
        if secondKind == .outerRate { o?.learningRate = second }
        if secondKind == .outerMomentum { o?.momentum = second }
        let coupling = secondKind == .tau ? fixedCoupling ?? .alpha(0) : secondKind.coupling(second)
        return makeScheme(method, workers: workers, eta: eta, coupling: coupling, h: h,
                          momentum: momentum, tau: steps, outer: o)
    }

    /// The size of LAPACK workspace a point needs.
    public var solverDimension: Int {
        if method.hasSynchronousMap { return outerScheme(eta: eta.lower, second: second.lower).stateDimension }
        let s = scheme(eta: eta.lower, second: second.lower)
        return max(s.stateDimension, 1 + s.blockSize + s.blockSize * (s.blockSize + 1))
    }

    /// The radius the map shows at one point: ρ(F) of the round map (round-robin), or the mean-square radius
    /// per round ρ(T)^{p/2} (random order). `tracker` (round-robin only) warm-starts along a row.
    public func radius(eta: Double, second: Double, solver: EigenSolver, tracker: RootTracker? = nil) throws -> Double {
        if method.hasSynchronousMap { return try outerScheme(eta: eta, second: second).radius(solver: solver).radius }
        let s = scheme(eta: eta, second: second)
        switch schedule {
        case .roundRobin:
            if let tracker { return try tracker.spectralRadius(s) }
            return try s.spectralRadiusFromCyclicStructure(solver: solver)
        case .random:
            return try RandomOrderScheme(s).meanSquareRadiusPerRound(solver: solver)
        case .clock:
            preconditionFailure("clock order has no stability map (Schedule.hasMap)")
        }
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
    /// The caller's `shouldStop` said to stop (a newer request superseded this one).
    case stopped
    public var description: String {
        switch self {
        case .nonFinite(let eta, let second):
            return "the spectral radius is not finite at eta = \(eta), second parameter = \(second)"
        case .stopped:
            return "the map was stopped before it was complete"
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
    /// Compute the map on all cores (`threads` to override). `shouldStop` is asked before each row; when it says
    /// yes, the map throws `StabilityMapError.stopped` (the explorer's newer request supersedes an older one).
    public static func compute(_ spec: StabilityMapSpec, threads: Int? = nil,
                               shouldStop: (@Sendable () -> Bool)? = nil) throws -> StabilityMap {
        let start = DispatchTime.now().uptimeNanoseconds
        let columns = spec.eta.count, rows = spec.second.count
        let results = SharedResults(count: rows * columns)
        let etas = spec.eta.values, seconds = spec.second.values
        let lapack = Atomic<Int>(0), tracked = Atomic<Int>(0)
        try forEachRowInParallel(rows: rows, solverDimension: spec.solverDimension, threads: threads) { j, solver in
            if let shouldStop, shouldStop() { throw StabilityMapError.stopped }
            let tracker = RootTracker(solver: solver)
            defer {
                lapack.add(tracker.lapackSolves, ordering: .relaxed)
                tracked.add(tracker.trackedSolves, ordering: .relaxed)
            }
            for i in 0..<columns {
                let r = try spec.radius(eta: etas[i], second: seconds[j], solver: solver, tracker: tracker)
                guard r.isFinite else { throw StabilityMapError.nonFinite(eta: etas[i], second: seconds[j]) }
                results.pointer[j * columns + i] = r
            }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return StabilityMap(spec: spec, radii: Array(results.pointer), seconds: elapsed,
                            lapackSolves: lapack.load(ordering: .relaxed), trackedSolves: tracked.load(ordering: .relaxed))
    }
}

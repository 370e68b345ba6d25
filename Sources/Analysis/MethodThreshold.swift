// A method's map on the top curvature direction at a run's settings, as a function of ηh: its spectral radius,
// and the threshold h* = (ηh)*/η where that radius first crosses 1 — 2/η for SGD, 2(1 + δ)/(η(1 + 2δ)) for
// Nesterov, and for EASGD, EAMSGD and DOWNPOUR the root along h of ρ(F(h)) = 1 of their round map (or of the
// random-order mean-square map), computed by Dynamics from the update code. Also the margins a run has on its
// map: how far η, α or τ can move before the boundary.

import Dynamics
import Elastic
import Foundation
import Records

public struct MethodThreshold: Sendable {
    public var method: Algorithm
    public var workers: Int
    public var alpha: Double
    public var tau: Int
    public var momentum: Double
    /// round-robin (the round map's ρ(F)) or random (the mean-square radius per round); sequential methods and
    /// synchronous EASGD have one map whichever is asked.
    public var schedule: Schedule
    /// DiLoCo's outer step (its map is the synchronous round's, whatever the schedule; `tau` is H).
    public var outer: OuterSettings?

    public init(method: Algorithm, workers: Int, alpha: Double, tau: Int, momentum: Double, schedule: Schedule, outer: OuterSettings? = nil) {
        self.method = method
        self.workers = workers
        self.alpha = alpha
        self.tau = tau
        self.momentum = momentum
        self.schedule = schedule == .random ? .random : .roundRobin
        self.outer = method.takes(.outer) ? outer ?? OuterSettings() : nil
    }

    /// The map whose radius is computed, in words, for reports.
    public var mapName: String {
        switch method {
        case .sgd, .asgd, .mvasgd: "SGD on the top direction, 1 − ηh"
        case .msgd: "Nesterov on the top direction (δ = \(momentum))"
        case .mdownpour: "Nesterov at the master: with τ = 1 in round-robin order MDOWNPOUR is sequential Nesterov on the center (δ = \(momentum))"
        case .syncEasgd: "synchronous EASGD's recursion on (Σx_i, x̃)"
        case .diloco: "DiLoCo's synchronous round (H = τ inner SGD steps, then the \((outer ?? OuterSettings()).optimizer.rawValue) outer step)"
        case .adownpour, .mvadownpour: "DOWNPOUR's \(schedule == .random ? "random-order mean-square" : "round") map (the average does not feed back)"
        case .admm: "ADMM's round map"
        default: "\(method.name)'s \(schedule == .random ? "random-order mean-square map per round" : "round-robin round map")"
        }
    }

    /// The scheme of the parallel methods with a round map (DOWNPOUR for its averaging variants), at h = 1 so
    /// that η is ηh.
    private func scheme(etaH e: Double, alpha a: Double, tau t: Int) -> SchemePoint? {
        switch method {
        case .easgd, .eamsgd:
            SchemePoint(method: method, workers: workers, eta: e, coupling: .alpha(a), h: 1, momentum: method == .eamsgd ? momentum : 0, tau: t)
        case .downpour, .adownpour, .mvadownpour:
            SchemePoint(method: .downpour, workers: workers, eta: e, coupling: .alpha(0), h: 1, momentum: 0, tau: t)
        case .asyncDiloco:
            SchemePoint(method: method, workers: workers, eta: e, coupling: .alpha(0), h: 1, momentum: 0, tau: t, outer: outer)
        default: nil
        }
    }

    /// The spectral radius at ηh = e (with α and τ as given, by default the run's).
    public func radius(etaH e: Double, alpha a: Double? = nil, tau t: Int? = nil) throws -> Double {
        let a = a ?? alpha, t = t ?? tau
        switch method {
        case .sgd, .asgd, .mvasgd: return SequentialStability.radius(etaH: e, momentum: 0)
        case .msgd, .mdownpour: return SequentialStability.radius(etaH: e, momentum: momentum)
        case .syncEasgd: return SynchronousEASGD(workers: workers, eta: e, alpha: a, h: 1, sigma: 0).spectralRadius
        case .diloco:
            return try (outer ?? OuterSettings()).round(workers: workers, innerRate: e, innerSteps: t, curvatures: [1]).radius().radius
        default:
            guard let point = scheme(etaH: e, alpha: a, tau: t) else { throw OutputError("\(method.rawValue) has no map") }
            return try point.radius(schedule: schedule).radius
        }
    }

    public func isStable(etaH e: Double, alpha a: Double? = nil, tau t: Int? = nil) throws -> Bool {
        if method == .syncEasgd { return SynchronousEASGD.isStable(etaH: e, beta: (a ?? alpha) * Double(workers), workers: workers) }
        return try radius(etaH: e, alpha: a, tau: t) <= 1 + StabilityMap.marginalBand
    }

    /// The critical (ηh)*: the smallest ηh > 0 at which the map stops being stable (a geometric scan from 10⁻⁴
    /// by factors of 1.05, then bisection to 10⁻¹⁰ relative); nil if it stays stable up to ηh = 10⁴. The closed
    /// forms are used where they exist (SGD 2, Nesterov 2(1 + δ)/(1 + 2δ)).
    public func criticalEtaH() throws -> Double? {
        switch method {
        case .sgd, .asgd, .mvasgd: return 2
        case .msgd, .mdownpour: return SequentialStability.criticalEtaH(momentum: momentum)
        default: break
        }
        var lo = 1e-4
        guard try isStable(etaH: lo) else { return lo }
        var hi = lo
        while true {
            hi = lo * 1.05
            if hi > 1e4 { return nil }
            if try !isStable(etaH: hi) { break }
            lo = hi
        }
        while (hi - lo) > 1e-10 * hi {
            let mid = (lo + hi) / 2
            if try isStable(etaH: mid) { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// The stable interval of α around `alpha` at ηh = e (each end bisected to 10⁻⁸ relative within
    /// [10⁻⁶, 1]); nil when the run's α is itself unstable.
    public func alphaInterval(etaH e: Double) throws -> ClosedRange<Double>? {
        guard method.hasCoupling, try isStable(etaH: e) else { return nil }
        func edge(towards bound: Double) throws -> Double {
            var inside = alpha, outside = bound
            if try isStable(etaH: e, alpha: bound) { return bound }
            while abs(outside - inside) > 1e-8 * max(abs(inside), 1e-6) {
                let mid = (inside + outside) / 2
                if try isStable(etaH: e, alpha: mid) { inside = mid } else { outside = mid }
            }
            return inside
        }
        return try edge(towards: 1e-6)...edge(towards: 1)
    }

    /// The largest τ ≤ 1024 up to which the map stays stable at ηh = e, probing τ·2^k and then bisecting between
    /// the last stable and first unstable probe (the map is assumed stable between probes that are); nil when the
    /// run's τ is itself unstable.
    public func largestTau(etaH e: Double) throws -> Int? {
        guard method.takes(.tau), method != .syncEasgd, try isStable(etaH: e) else { return nil }
        var good = tau, bad: Int? = nil
        while good < 1024 {
            let next = min(good * 2, 1024)
            if try isStable(etaH: e, tau: next) { good = next } else { bad = next; break }
        }
        guard var bad else { return good }
        while bad - good > 1 {
            let mid = (good + bad) / 2
            if try isStable(etaH: e, tau: mid) { good = mid } else { bad = mid }
        }
        return good
    }
}

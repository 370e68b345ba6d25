// Argument types shared by the commands, each validating itself so that a bad value gets a one-line error.

import ArgumentParser
import Dynamics

extension Method: ExpressibleByArgument {}
extension Schedule: ExpressibleByArgument {}

/// Momentum only for EAMSGD, in [0, 1); τ in 1...1024.
func checkSchemeExtras(method: Method, momentum: Double?, tau: Int) throws {
    if let momentum {
        guard method == .eamsgd else { throw ValidationError("--momentum applies to eamsgd only") }
        try checkFinite("--momentum", momentum)
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1) (got \(momentum))") }
    }
    guard tau >= 1, tau <= 1024 else { throw ValidationError("--tau must be between 1 and 1024 (got \(tau))") }
}

/// `LO:HI` with finite LO < HI.
public struct ParameterRange: ExpressibleByArgument, Sendable, Equatable {
    public var lower: Double
    public var upper: Double

    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let lo = Double(parts[0]), let hi = Double(parts[1]),
              lo.isFinite, hi.isFinite, lo < hi else { return nil }
        self.init(lower: lo, upper: hi)
    }

    public static var defaultCompletionKind: CompletionKind { .default }
}

/// `NxM`: N points along η, M along the second parameter.
public struct GridSize: ExpressibleByArgument, Sendable, Equatable {
    public var etaPoints: Int
    public var secondPoints: Int
    /// The most grid points a map may have: its radii, CSV rows and boundary search must fit in memory.
    public static let maxPoints = 16_777_216

    public init(etaPoints: Int, secondPoints: Int) {
        self.etaPoints = etaPoints
        self.secondPoints = secondPoints
    }

    public init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else { return nil }
        self.init(etaPoints: n, secondPoints: m)
    }

    public var description: String { "\(etaPoints)x\(secondPoints)" }

    func validate() throws {
        guard etaPoints >= 2, secondPoints >= 2 else {
            throw ValidationError("grid \(description): each side needs at least 2 points")
        }
        let (points, overflow) = etaPoints.multipliedReportingOverflow(by: secondPoints)
        guard !overflow, points <= GridSize.maxPoints else {
            throw ValidationError("grid \(description) is too large: at most \(GridSize.maxPoints) points (4096x4096) fit the memory budget of a map")
        }
    }
}

/// `3,8`: a comma-separated list of worker counts.
public struct WorkerList: ExpressibleByArgument, Sendable, Equatable {
    public var counts: [Int]
    public init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        var counts: [Int] = []
        for part in parts {
            guard let p = Int(part.trimmingCharacters(in: .whitespaces)) else { return nil }
            counts.append(p)
        }
        guard !counts.isEmpty else { return nil }
        self.counts = counts
    }

    /// As it is written on the command line (the help's default).
    public var defaultValueDescription: String { counts.map(String.init).joined(separator: ",") }
}

/// `--init 1000` (λ = 0, every x and the center at that value) or `--init random`.
public enum InitArgument: ExpressibleByArgument, Sendable, Equatable {
    case constant(Double)
    case random

    public init?(argument: String) {
        if argument == "random" { self = .random; return }
        guard let v = Double(argument), v.isFinite else { return nil }
        self = .constant(v)
    }
}

/// The largest number of workers the commands accept (the state of ADMM has 2p+1 coordinates).
let maxWorkers = 256

func checkWorkers(_ p: Int) throws {
    guard p >= 1 else { throw ValidationError("--workers must be at least 1 (got \(p))") }
    guard p <= maxWorkers else { throw ValidationError("--workers must be at most \(maxWorkers) (got \(p))") }
}

func checkFinite(_ name: String, _ v: Double) throws {
    guard v.isFinite else { throw ValidationError("\(name) must be a finite number (got \(v))") }
}

func checkNonNegative(_ name: String, _ v: Double) throws {
    try checkFinite(name, v)
    guard v >= 0 else { throw ValidationError("\(name) must not be negative (got \(v))") }
}

func checkPositive(_ name: String, _ v: Double) throws {
    try checkFinite(name, v)
    guard v > 0 else { throw ValidationError("\(name) must be positive (got \(v))") }
}

func checkRange(_ name: String, _ r: ParameterRange, positiveLower: Bool = false) throws {
    guard r.lower >= 0 else { throw ValidationError("\(name) \(r.lower):\(r.upper): values must not be negative") }
    if positiveLower, r.lower <= 0 {
        throw ValidationError("\(name) \(r.lower):\(r.upper): a logarithmic axis needs LO > 0")
    }
}

/// Exactly one of --rho / --alpha.
func coupling(rho: Double?, alpha: Double?) throws -> Coupling {
    switch (rho, alpha) {
    case (let r?, nil):
        try checkNonNegative("--rho", r)
        return .rho(r)
    case (nil, let a?):
        try checkNonNegative("--alpha", a)
        return .alpha(a)
    case (nil, nil): throw ValidationError("give one of --rho or --alpha")
    default: throw ValidationError("give only one of --rho or --alpha (alpha = eta * rho)")
    }
}

/// The options that name one round-robin scheme at one parameter point (`radius`, `simulate`).
struct SchemeOptions: ParsableArguments {
    @Option(help: "easgd, admm, eamsgd or downpour.") var method: Method
    @Option(help: "Number of workers p (≥ 1).") var workers: Int
    @Option(help: "Learning rate η (≥ 0).") var eta: Double
    @Option(help: "Coupling ρ (α = ηρ).") var rho: Double?
    @Option(help: "Moving rate α = ηρ, instead of --rho.") var alpha: Double?
    @Option(help: "Curvature h of F(x) = h·x²/2.") var h: Double = 1
    @Option(help: "EAMSGD's momentum δ in [0, 1).") var momentum: Double?
    @Option(help: "Local steps per activation τ.") var tau: Int = 1

    func validate() throws {
        try checkWorkers(workers)
        try checkNonNegative("--eta", eta)
        try checkPositive("--h", h)
        try checkSchemeExtras(method: method, momentum: momentum, tau: tau)
        if method == .downpour {
            if rho != nil || alpha != nil { throw ValidationError("DOWNPOUR has no coupling: drop --rho and --alpha") }
            return
        }
        if case .alpha = try coupling, eta == 0 { throw ValidationError("--alpha needs --eta > 0 (rho = alpha / eta)") }
    }

    var coupling: Coupling {
        get throws { method == .downpour ? .alpha(0) : try EasgdCLI.coupling(rho: rho, alpha: alpha) }
    }

    func scheme() throws -> any RoundRobinScheme {
        makeScheme(method, workers: workers, eta: eta, coupling: try coupling, h: h, momentum: momentum ?? 0, tau: tau)
    }
}

// Argument types shared by the commands, each validating itself so that a bad value gets a one-line error.

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Training
import Engine
import Records

/// `--method`'s value: a method's name, or an error naming the nearest one and every method (the parser's own
/// message only said the value was invalid).
func parseMethod(_ text: String) throws -> Algorithm {
    if let method = Algorithm(rawValue: text) { return method }
    let names = Algorithm.allCases.map(\.rawValue)
    throw ValidationError("not a method\(nearestName(text, among: names).map { " (did you mean '\($0)'?)" } ?? ""); "
                          + "the methods are \(names.joined(separator: ", ")), each command taking those its help names")
}

/// The closest name within two edits (insertions, deletions, substitutions and swaps of neighbours), if any.
func nearestName(_ word: String, among names: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var d = (0...a.count).map { i in (0...b.count).map { j in i == 0 ? j : (j == 0 ? i : 0) } }
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
    let scored = names.map { ($0, distance(Array(word.lowercased()), Array($0))) }.filter { $0.1 <= 2 }
    return scored.min { $0.1 < $1.1 }?.0
}

// Each command accepts only some algorithms and orders, and its help names exactly those: the type-wide list of
// every value would be wrong for all of them, so it is left out of the help.
extension Algorithm: ExpressibleByArgument {
    public static var allValueStrings: [String] { [] }
}
extension Schedule: ExpressibleByArgument {
    public static var allValueStrings: [String] { [] }
}
extension Backend: ExpressibleByArgument {}
extension ConvolutionPath: ExpressibleByArgument {}
extension AdvicePoint: ExpressibleByArgument {}
extension SolveAxis: ExpressibleByArgument {}
extension OuterOptimizer: ExpressibleByArgument {}
extension CodecFormat: ExpressibleByArgument {}
extension CodecRounding: ExpressibleByArgument {}
/// `N` (every N steps; for parallel runs, worker steps in total) or `Ss` (every S seconds of run time).
extension EvaluationInterval: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
}

/// Momentum only for EAMSGD, in [0, 1); τ within `Limits.mapTau`.
func checkSchemeExtras(method: Algorithm, momentum: Double?, tau: Int) throws {
    if let momentum {
        guard method == .eamsgd else { throw ValidationError("--momentum applies to eamsgd only") }
        if let problem = Limits.momentumProblem("--momentum", momentum) { throw ValidationError(problem) }
    }
    try checkLimit("--tau", tau, Limits.mapTau)
}

/// `LO:HI` with finite LO < HI; a bad one is refused saying what is wrong and what to type (every range option
/// parses through it: `map --alpha 0.1125:0.1125` was refused without a reason).
func parseRange(_ text: String) throws -> ClosedRange<Double> {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2 else { throw ValidationError("a range is LO:HI, e.g. 0.01:1") }
    guard let lo = Double(parts[0]), let hi = Double(parts[1]), lo.isFinite, hi.isFinite else {
        throw ValidationError("LO and HI must be finite numbers")
    }
    guard lo < hi else {
        throw ValidationError("LO must be below HI; for one value ask `easgd radius` at that point, or `easgd radius "
                              + "--solve AXIS` for the stable values of one coordinate with the others fixed")
    }
    return lo...hi
}

/// `LO:HI` with finite LO < HI, parsed straight into the library's range type.
extension ClosedRange<Double>: @retroactive ExpressibleByArgument {
    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let lo = Double(parts[0]), let hi = Double(parts[1]),
              lo.isFinite, hi.isFinite, lo < hi else { return nil }
        self = lo...hi
    }
    /// As a user types it (the help's default).
    public var defaultValueDescription: String { "\(plain(lowerBound)):\(plain(upperBound))" }
    public static var defaultCompletionKind: CompletionKind { .default }
}

/// `NxM`: N points along η, M along the second parameter.
extension GridPoints: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
    public var defaultValueDescription: String { description }
}

extension GridPoints {
    func validate() throws {
        if let problem { throw ValidationError(problem) }
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

    public var defaultValueDescription: String {
        switch self {
        case .constant(let v): plain(v)
        case .random: "random"
        }
    }

    public init?(argument: String) {
        if argument == "random" { self = .random; return }
        guard let v = Double(argument), v.isFinite else { return nil }
        self = .constant(v)
    }
}

/// An integer option within its range (`Limits`), else the option's one-line error.
func checkLimit(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
    if let problem = Limits.problem(name, value, range) { throw ValidationError(problem) }
}

func checkWorkers(_ p: Int) throws { try checkLimit("--workers", p, Limits.analysisWorkers) }

func checkFinite(_ name: String, _ v: Double) throws {
    if let problem = Limits.problem(name, v, .any) { throw ValidationError(problem) }
}

func checkNonNegative(_ name: String, _ v: Double) throws {
    if let problem = Limits.problem(name, v, .nonNegative) { throw ValidationError(problem) }
}

func checkPositive(_ name: String, _ v: Double) throws {
    if let problem = Limits.problem(name, v, .positive) { throw ValidationError(problem) }
}

func checkRange(_ name: String, _ r: ClosedRange<Double>, positiveLower: Bool = false) throws {
    guard r.lowerBound >= 0 else { throw ValidationError("\(name) \(r.defaultValueDescription): values must not be negative") }
    if positiveLower, r.lowerBound <= 0 {
        throw ValidationError("\(name) \(r.defaultValueDescription): a logarithmic axis needs LO > 0")
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

/// DiLoCo's outer step and inner optimizer, as every command that maps, trains or validates it takes them
/// (`train` has its own, checked by the library's rules); DiLoCo's defaults for what is not given.
struct OuterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("DiLoCo's outer optimizer: nesterov (default, PyTorch's SGD(nesterov=True)), heavy-ball or sgd.",
                               discussion: "DiLoCo's workers take τ = H inner steps from the center; the outer optimizer then moves the center by the pseudo-gradient x̃ − mean x_i and every worker restarts there (easgd radius --method diloco: its stability)."))
    var outer: OuterOptimizer?
    @Option(help: "DiLoCo's outer learning rate η_o (default 0.7, DiLoCo's; on a map, when it is not the axis).") var outerLr: Double?
    @Option(help: "DiLoCo's outer momentum β (default 0.9, DiLoCo's; on a map, when it is not the axis).") var outerMomentum: Double?
    @Option(help: "diloco: 1 to apply each round's pseudo-gradient one round late (Streaming DiLoCo's overlap), 0 (default) at once.")
    var outerDelay: Int?
    @Option(help: "diloco's inner optimizer: Nesterov with this momentum δ in [0, 1) (default 0: SGD).") var innerMomentum: Double?
    @Flag(help: "diloco with --inner-momentum: keep each worker's velocity across rounds (default: reset to zero at each restart).")
    var keepInnerVelocity = false

    /// Some option of the outer step was given.
    var given: Bool { outer != nil || outerLr != nil || outerMomentum != nil || outerDelay != nil || innerMomentum != nil || keepInnerVelocity }

    /// What only the command line can get wrong here; the values' rules are the library's (`RunSettings.check`,
    /// which `train` and a resumed run apply too).
    func check(_ method: Algorithm) throws {
        if !method.takes(.outer), given {
            throw ValidationError("--outer, --outer-lr, --outer-momentum, --outer-delay and --inner-momentum apply to \(Algorithm.names { $0.takes(.outer) })")
        }
        if let outerDelay, outerDelay != 0 && outerDelay != 1 { throw ValidationError("--outer-delay is 0 or 1 (rounds; got \(outerDelay))") }
        if let outer = settings(method) { try RunSettings.check(outer: outer, method: method) }
    }

    /// The outer step for `method` (nil for the methods without one).
    func settings(_ method: Algorithm) -> OuterSettings? {
        guard method.takes(.outer) else { return nil }
        return .given(optimizer: outer, learningRate: outerLr, momentum: outerMomentum, delayed: outerDelay == 1,
                      innerMomentum: innerMomentum, keepsInnerVelocity: keepInnerVelocity)
    }
}

/// The options that name one round-robin scheme at one parameter point (`radius`, `simulate`).
struct SchemeOptions: ParsableArguments {
    @Option(help: "\(Algorithm.names { $0.hasRoundRobinMap || $0.hasSynchronousMap }).", transform: parseMethod) var method: Algorithm
    @Option(help: "Number of workers p (≥ 1).") var workers: Int
    @Option(name: [.customLong("eta"), .customLong("lr")], help: "Learning rate η (≥ 0; --lr is the same option).") var eta: Double?
    @Option(help: "Coupling ρ (α = ηρ).") var rho: Double?
    @Option(help: "Moving rate α = ηρ, instead of --rho.") var alpha: Double?
    @Option(help: "Curvature h of F(x) = h·x²/2.") var h: Double = 1
    @Option(name: [.customLong("momentum"), .customLong("delta")], help: "EAMSGD's momentum δ in [0, 1) (default 0.99, as in training; --delta is the same option).")
    var momentum: Double?
    @Option(help: "Local steps per activation τ (DiLoCo: the inner steps H per round).") var tau: Int = 1
    @OptionGroup var outerOptions: OuterOptions
    @Option(help: ArgumentHelp("DiLoCo: each worker's own curvature h_i (heterogeneous data), p comma-separated values, instead of --h.",
                               valueName: "h1,...,hp"))
    var workerH: NumberList?

    func validate() throws {
        if let workerH {
            guard method.hasSynchronousMap else { throw ValidationError("--worker-h applies to \(Algorithm.names(where: \.hasSynchronousMap))") }
            guard workerH.values.count == workers else {
                throw ValidationError("--worker-h gives \(workerH.values.count) curvatures for \(workers) workers (give one per worker)")
            }
            for value in workerH.values { try checkPositive("--worker-h", value) }
        }
        guard method.hasRoundRobinMap || method.hasSynchronousMap else {
            throw ValidationError("\(method.rawValue) has no round map (maps exist for \(Algorithm.names { $0.hasRoundRobinMap || $0.hasSynchronousMap }))")
        }
        try outerOptions.check(method)
        try checkWorkers(workers)
        if let eta { try checkNonNegative("--eta", eta) }
        try checkPositive("--h", h)
        try checkSchemeExtras(method: method, momentum: momentum, tau: tau)
        if !method.hasCoupling {
            if rho != nil || alpha != nil { throw ValidationError("\(method.name) has no coupling: drop --rho and --alpha") }
            return
        }
        if rho == nil && alpha == nil { return }          // refused by `coupling` unless solved for (radius --solve alpha)
        if case .alpha = try coupling, eta == 0 { throw ValidationError("--alpha needs --eta > 0 (rho = alpha / eta)") }
    }

    var coupling: Coupling {
        get throws { !method.hasCoupling ? .alpha(0) : try EasgdCLI.coupling(rho: rho, alpha: alpha) }
    }

    var schemePoint: SchemePoint {
        get throws {
            guard let eta else { throw ValidationError("give the learning rate --eta") }
            var point = SchemePoint(method: method, workers: workers, eta: eta, coupling: try coupling, h: h, momentum: SchemePoint.momentum(method, given: momentum), tau: tau)
            point.outer = outerSettings
            point.workerCurvatures = workerH?.values
            return point
        }
    }

    /// DiLoCo's outer optimizer with its defaults (nil for the other methods).
    var outerSettings: OuterSettings? { outerOptions.settings(method) }

    /// The point with the coordinate `--solve` varies left open (any value stands in for it; it is replaced).
    func schemePoint(solving axis: SolveAxis) throws -> SchemePoint {
        var open = SchemePoint(method: method, workers: workers, eta: eta ?? 1,
                               coupling: axis == .alpha && rho == nil && alpha == nil ? .alpha(0.5) : try coupling,
                               h: h, momentum: SchemePoint.momentum(method, given: momentum), tau: tau)
        open.outer = outerSettings
        open.workerCurvatures = workerH?.values
        guard eta != nil || axis == .eta else { throw ValidationError("give the learning rate --eta (or solve for it: --solve eta)") }
        return open
    }
}

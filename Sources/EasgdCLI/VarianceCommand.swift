// easgd variance: mean, variance and MSE of the center of synchronous EASGD on a noisy quadratic.

import Analysis
import ArgumentParser
import Records

/// A time: a step count or "inf".
enum TimeArgument: ExpressibleByArgument, Equatable {
    case steps(Int)
    case infinity

    init?(argument: String) {
        if ["inf", "infinity", "∞"].contains(argument.lowercased()) { self = .infinity; return }
        guard let t = Int(argument), t >= 0 else { return nil }
        self = .steps(t)
    }
    var steps: Int? { if case .steps(let t) = self { return t } else { return nil } }
    var label: String { steps.map(String.init) ?? "inf" }
    var defaultValueDescription: String { label }
}

/// A comma-separated list of finite numbers.
struct NumberList: ExpressibleByArgument, Equatable {
    var values: [Double]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0!.isFinite }) else { return nil }
        values = parts.map { $0! }
    }
    init(_ values: [Double]) { self.values = values }
    var defaultValueDescription: String { values.map(plain).joined(separator: ",") }
}

struct VarianceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance",
        abstract: "Mean, variance and MSE of the center of synchronous EASGD on a noisy quadratic.",
        discussion: """
            All p workers start at x0 and the center at center0 (x* = 0). Each worker's gradient is h·x_i − ξ_i \
            with ξ_i of variance σ². Every step, x_i ← x_i − ηg_i − α(x_i − x̃) and x̃ ← x̃ + αΣ_i(x_i − x̃), with \
            β = pα. The answer is the closed form from the two eigenvalues of the 2×2 map on (Σ_i x_i, x̃). For \
            t = inf the map must be stable; otherwise the MSE diverges, which is reported as such. Examples:
              easgd variance --workers 10 --eta 0.1 --beta 0.9 --sigma 10
              easgd variance --workers 10 --eta 0.1 --beta 0.9 --sigma 10 --t 5 --json
              easgd variance --workers 4 --eta 0.1 --beta 0.9 --h 1,0.1,0.01 --sigma 1
              easgd variance --workers 4 --eta 0.1 --beta 0.9 --hessian H.txt \\
                --noise-cov S.txt
            Several directions (--h as a list, or --hessian FILE) are solved in the eigenbasis of H. Each direction \
            gets its own result, and the total MSE is their sum.
            """
    )

    @Option(help: "Number of workers p.") var workers: Int
    @Option(name: [.customLong("eta"), .customLong("lr")], help: "Learning rate η (--lr is the same option).") var eta: Double
    @Option(help: "Moving rate α (or give --beta).") var alpha: Double?
    @Option(help: "β = pα (or give --alpha).") var beta: Double?
    @Option(help: "Curvature h, or a comma-separated list of H's eigenvalues (default 1).") var h: NumberList?
    @Option(help: "A file with the Hessian matrix (instead of --h).") var hessian: String?
    @Option(help: "Noise standard deviation σ, or one per direction (default 1).") var sigma: NumberList?
    @Option(help: "A file with the noise covariance matrix (instead of --sigma; in the same basis as --hessian or --h).")
    var noiseCov: String?
    @Option(help: "Time step t ≥ 0, or inf.") var t: TimeArgument = .infinity
    @Option(help: "Starting point of every worker (each coordinate).") var x0: Double = 1
    @Option(help: "Starting point of the center (default: x0).") var center0: Double?
    @Flag(help: "Print JSON: also the two eigenvalues, \"stable\" and each direction.") var json = false

    func validate() throws {
        // The model is the 2×2 map on (Σ x_i, x̃), so p can be large.
        guard workers >= 1, workers <= 1_000_000_000 else { throw ValidationError("--workers must be between 1 and 1000000000 (got \(workers))") }
        try checkPositive("--eta", eta)
        try checkFinite("--x0", x0)
        if let center0 { try checkFinite("--center0", center0) }
        switch (alpha, beta) {
        case (let a?, nil): try checkNonNegative("--alpha", a)
        case (nil, let b?): try checkNonNegative("--beta", b)
        case (nil, nil): throw ValidationError("give one of --alpha or --beta (beta = p * alpha)")
        default: throw ValidationError("give only one of --alpha or --beta (beta = p * alpha)")
        }
        if h != nil && hessian != nil { throw ValidationError("give only one of --h or --hessian") }
        if sigma != nil && noiseCov != nil { throw ValidationError("give only one of --sigma or --noise-cov") }
        if let h, let bad = h.values.first(where: { $0 <= 0 }) { throw ValidationError("--h values must be positive (got \(bad))") }
        if let sigma, let bad = sigma.values.first(where: { $0 < 0 }) { throw ValidationError("--sigma must not be negative (got \(bad))") }
    }

    func run() throws {
        let problem = try VarianceReport.problem(curvatures: h?.values, hessian: hessian, sigmas: sigma?.values,
                                                 noiseCovariance: noiseCov, x0: x0, center0: center0 ?? x0)
        let report = try VarianceReport(problem: problem, workers: workers, eta: eta, alpha: alpha ?? (beta ?? 0) / Double(workers), t: t.steps)
        print(json ? try report.json.render() : try report.lines.joined(separator: "\n"))
    }
}

// easgd radius: the spectral radius of one round map (dgeev on the map probed from the Elastic code).

import ArgumentParser
import Dynamics

struct RadiusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radius",
        abstract: "Print the spectral radius of a round-robin round map.",
        discussion: """
            The map is probed from the update code (one round applied to each basis vector) and its eigenvalues
            computed with LAPACK dgeev. Example, the paper's unstable ADMM:
              easgd radius --method admm --workers 3 --eta 0.001 --rho 2.5
            """
    )

    @Option(help: "easgd or admm.") var method: Method
    @Option(help: "Number of workers p (≥ 1).") var workers: Int
    @Option(help: "Learning rate η (≥ 0).") var eta: Double
    @Option(help: "Coupling ρ (α = ηρ).") var rho: Double?
    @Option(help: "Moving rate α = ηρ, instead of --rho.") var alpha: Double?
    @Option(help: "Curvature h of F(x) = h·x²/2.") var h: Double = 1
    @Flag(help: "Print JSON with every eigenvalue as [re, im] and \"stable\".") var json = false

    func validate() throws {
        try checkWorkers(workers)
        try checkNonNegative("--eta", eta)
        try checkPositive("--h", h)
        let c = try coupling(rho: rho, alpha: alpha)
        if case .alpha = c, eta == 0 { throw ValidationError("--alpha needs --eta > 0 (rho = alpha / eta)") }
    }

    func run() throws {
        let c = try coupling(rho: rho, alpha: alpha)
        let scheme = makeScheme(method, workers: workers, eta: eta, coupling: c, h: h)
        let solver = EigenSolver(maxDimension: scheme.stateDimension)
        let eigenvalues = try scheme.roundMapEigenvalues(solver: solver)
        let radius = eigenvalues.reduce(0) { max($0, $1.magnitude) }
        guard radius.isFinite else { throw OutputError("the spectral radius is not finite") }
        if !json {
            print(try number(radius))
            return
        }
        let document = JSON.object([
            ("method", .string(method.rawValue)),
            ("workers", .integer(workers)),
            ("eta", .number(eta)),
            ("rho", .number(c.rho(eta: eta))),
            ("alpha", .number(c.alpha(eta: eta))),
            ("h", .number(h)),
            ("radius", .number(radius)),
            ("stable", .bool(radius <= 1 + StabilityMap.marginalBand)),
            ("eigenvalues", .array(eigenvalues.map { .array([.number($0.re), .number($0.im)]) })),
        ])
        print(try document.render())
    }
}

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

    @OptionGroup var point: SchemeOptions
    @Flag(help: "Print JSON with every eigenvalue as [re, im] and \"stable\".") var json = false

    func run() throws {
        let c = try point.coupling, eta = point.eta
        let scheme = try point.scheme()
        let solver = EigenSolver(maxDimension: scheme.stateDimension)
        let eigenvalues = try scheme.roundMapEigenvalues(solver: solver)
        let radius = eigenvalues.reduce(0) { max($0, $1.magnitude) }
        guard radius.isFinite else { throw OutputError("the spectral radius is not finite") }
        if !json {
            print(try number(radius))
            return
        }
        let document = JSON.object([
            ("method", .string(point.method.rawValue)),
            ("workers", .integer(point.workers)),
            ("eta", .number(eta)),
            ("rho", .number(c.rho(eta: eta))),
            ("alpha", .number(c.alpha(eta: eta))),
            ("h", .number(point.h)),
            ("radius", .number(radius)),
            ("stable", .bool(radius <= 1 + StabilityMap.marginalBand)),
            ("eigenvalues", .array(eigenvalues.map { .array([.number($0.re), .number($0.im)]) })),
        ])
        print(try document.render())
    }
}

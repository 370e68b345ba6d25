// easgd radius: the spectral radius of one round map (dgeev on the map probed from the Elastic code).

import ArgumentParser
import Dynamics
import Foundation

struct RadiusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radius",
        abstract: "Print the spectral radius of a round-robin round map.",
        discussion: """
            The map is probed from the update code (one round applied to each basis vector) and its eigenvalues \
            computed with LAPACK dgeev. With --schedule random (a uniformly random worker at each step) it prints \
            the mean-square radius per round ρ(T)^{p/2} of the second-moment operator. The paper's unstable ADMM:
              easgd radius --method admm --workers 3 --eta 0.001 --rho 2.5
              easgd radius --method admm --workers 3 --eta 0.001 --rho 2.5 --schedule random
            """
    )

    @OptionGroup var point: SchemeOptions
    @Option(help: "round-robin, or random: the mean-square radius per round ρ(T)^{p/2} of the second-moment operator.")
    var schedule: Schedule = .roundRobin
    @Flag(help: "Print JSON with every eigenvalue as [re, im] and \"stable\".") var json = false

    func run() throws {
        let c = try point.coupling, eta = point.eta
        let scheme = try point.scheme()
        if schedule == .random {
            let random = RandomOrderScheme(scheme)
            let solver = EigenSolver(maxDimension: random.reducedDimension)
            let perActivation = try random.secondMomentRadius(solver: solver)
            let perRound = pow(perActivation, Double(point.workers) / 2)
            guard perRound.isFinite else { throw OutputError("the mean-square radius is not finite") }
            if !json {
                print(try number(perRound))
                return
            }
            print(try JSON.object([
                ("method", .string(point.method.rawValue)), ("workers", .integer(point.workers)), ("eta", .number(eta)),
                ("rho", .number(c.rho(eta: eta))), ("alpha", .number(c.alpha(eta: eta))), ("h", .number(point.h)),
                ("schedule", .string("random")),
                ("second_moment_radius_per_activation", .number(perActivation)),
                ("radius", .number(perRound)),
                ("stable", .bool(perRound <= 1 + StabilityMap.marginalBand)),
            ]).render())
            return
        }
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

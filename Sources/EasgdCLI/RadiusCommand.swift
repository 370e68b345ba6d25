// easgd radius: the spectral radius of one round map (dgeev on the map probed from the Elastic code).

import Analysis
import ArgumentParser
import Elastic
import Records
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
    @Option(help: "Worker order: round-robin, or random (the mean-square radius per round ρ(T)^{p/2} of the second-moment operator).")
    var schedule: Schedule = .roundRobin
    @Flag(help: "Print JSON: every setting, spectral_radius, stable, and each eigenvalue as [re, im].") var json = false

    func validate() throws {
        guard schedule.hasMap else { throw ValidationError("--schedule clock has no round map: clock order depends on the workers' costs (use round-robin or random)") }
    }

    func run() throws {
        let c = try point.coupling, eta = point.eta
        let scheme = try point.scheme()
        var fields: [(String, JSON)] = [
            ("method", .string(point.method.rawValue)), ("workers", .integer(point.workers)), ("eta", .number(eta)),
        ]
        if point.method.hasCoupling { fields += [("rho", .number(c.rho(eta: eta))), ("alpha", .number(c.alpha(eta: eta)))] }
        if point.method.takes(.momentum) { fields.append(("momentum", .number(point.momentum ?? 0))) }
        fields += [("tau", .integer(point.tau)), ("h", .number(point.h)), ("schedule", .string(schedule.rawValue))]
        let radius: Double
        var extra: [(String, JSON)] = []
        if schedule == .random {
            let random = RandomOrderScheme(scheme)
            let perActivation = try random.secondMomentRadius(solver: EigenSolver(maxDimension: random.reducedDimension))
            radius = pow(perActivation, Double(point.workers) / 2)
            guard radius.isFinite else { throw OutputError("the mean-square radius is not finite") }
            extra.append(("second_moment_radius_per_activation", .number(perActivation)))
        } else {
            let eigenvalues = try scheme.roundMapEigenvalues(solver: EigenSolver(maxDimension: scheme.stateDimension))
            radius = eigenvalues.reduce(0) { max($0, $1.magnitude) }
            guard radius.isFinite else { throw OutputError("the spectral radius is not finite") }
            extra.append(("eigenvalues", .array(eigenvalues.map { .array([.number($0.re), .number($0.im)]) })))
        }
        let stable = radius <= 1 + StabilityMap.marginalBand
        if json {
            print(try JSON.object(fields + [("spectral_radius", .number(radius)), ("stable", .bool(stable))] + extra).render())
        } else {
            print("\(try number(radius)) \(stable ? "stable" : "unstable")")
        }
    }
}

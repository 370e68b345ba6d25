// easgd radius: the spectral radius of one round map (dgeev on the map probed from the Elastic code).

import Analysis
import ArgumentParser
import Elastic
import Records

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
        let result = try point.schemePoint.radius(schedule: schedule)
        print(json ? try result.json.render() : "\(try number(result.radius)) \(result.stable ? "stable" : "unstable")")
    }
}

// easgd variance-map: the MSE of synchronous EASGD's center over (ηh, β) for several p and t, and the
// comparison with SGD and MVASGD at equal η.

import Analysis
import ArgumentParser
import Records

struct VarianceMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance-map",
        abstract: "MSE maps of synchronous EASGD's center over (ηh, β), and the comparison with SGD and MVASGD.",
        discussion: """
            Writes PREFIX.csv (p, t, eta_h, beta, stable, mse; mse empty at t = inf where it diverges) and PREFIX.png, one \
            panel per (p, t) on a log colour scale. Grey means the map is not stable at t = ∞; the dashed curve \
            is the stability boundary β = (4 − 2ηh)/(2(1 + 1/p) − ηh). Where the map is not stable the MSE \
            grows without bound in t; those points are grey in every panel (the CSV keeps the finite-t value and a \
            stable column). It also writes PREFIX-compare.csv and \
            PREFIX-compare.png: the MSE at t = ∞ against ηh for EASGD (β fixed), SGD and MVASGD (moving rate β) \
            at the same η. Every value is the closed form. Example (the paper's settings x̃₀ = x_i₀ = 1, h = 1, σ = 10):
              easgd variance-map --out plots/variance/mse
            """
    )

    @Option(help: "Worker counts, one row of panels each.") var workers = WorkerList(argument: "1,10,100,1000,10000")!
    @Option(help: "Times, one column of panels each (integers or inf).") var times: String = "1,2,10,100,inf"
    @Option(help: "Grid points per axis in each panel.") var grid = 100
    @Option(help: "Largest ηh and β on the axes.") var extent = 2.2
    @Option(help: "Curvature h.") var h = 1.0
    @Option(help: "Noise standard deviation σ.") var sigma = 10.0
    @Option(help: "Starting point of the workers and of the center.") var x0 = 1.0
    @Option(help: "β of the comparison figure.") var compareBeta = 0.9
    @Option(help: "Output prefix; its directory must exist.") var out: String
    @Flag(help: "Print JSON: every setting and, per panel, the stable fraction and the range of the MSE.") var json = false

    func validate() throws {
        for p in workers.counts { guard p >= 1, p <= 1_000_000 else { throw ValidationError("--workers values must be between 1 and 1000000") } }
        _ = try parsedTimes()
        guard grid >= 2, grid <= 2000 else { throw ValidationError("--grid must be between 2 and 2000 (got \(grid))") }
        try checkPositive("--extent", extent)
        // Beyond ηh = 4 and β = 4 every point is unstable; a larger box only loses the picture (and gnuplot's range).
        guard extent <= 1000 else { throw ValidationError("--extent must be at most 1000 (got \(extent))") }
        try checkPositive("--h", h)
        try checkNonNegative("--sigma", sigma)
        try checkFinite("--x0", x0)
        try checkPositive("--compare-beta", compareBeta)
        try OutputPath.checkPrefix(out)
    }

    func parsedTimes() throws -> [TimeArgument] {
        let list = times.split(separator: ",").map { TimeArgument(argument: String($0)) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--times must be a comma-separated list of step counts or inf (got \(times))")
        }
        return list.map { $0! }
    }

    func run() throws {
        let maps = VarianceMaps(workers: workers.counts, times: try parsedTimes().map(\.steps), grid: grid, extent: extent, h: h,
                                sigma: sigma, x0: x0, compareBeta: compareBeta)
        let (summary, warnings) = try maps.write(prefix: out)
        if json { print(try summary.render()) }
        printError("wrote \(out).csv, \(out)-compare.csv" + (warnings.isEmpty ? ", \(out).png, \(out)-compare.png" : ""))
        if !warnings.isEmpty { throw FigureNotDrawn(warnings: warnings) }
    }
}

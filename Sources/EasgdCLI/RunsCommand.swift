// easgd runs: one row per training run directory (settings, progress, test errors, time, how it ended).

import Analysis
import ArgumentParser
import Records
import Training
import Foundation

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Summarise training runs: settings, steps, best and final test error, time and status.",
        discussion: """
            One row per run directory: method, p, τ, η, δ and α (each only where the method takes it; p = 1 and \
            backend "sequential" for one-worker methods), seed, backend, steps per worker, best and final test \
            error, wall seconds and (simulated runs) virtual seconds, and status: completed, running (a process \
            holds the directory now), interrupted (stopped by a signal, or killed: no status.json) or diverged. A \
            directory that holds no run stands for every run below it. --group-seeds folds runs that differ only in \
            their seed into one numbered row: the mean, min and max of the best and final test error and the 95 % \
            interval of the mean (Student's t, n − 1 degrees of freedom; three seeds give a wide one, as they should). \
            --paired compares every group with group 1 seed by seed (the seeds both ran): the mean difference in \
            points with its 95 % interval, and in how many seeds the group's error was lower. --targets gives each \
            run's first time at or below each test error (the run's clock, wall or virtual, and epochs), and each \
            group's mean over the seeds that reached it, with how many did:
              easgd runs runs
              easgd runs runs/easgd-seed* --group-seeds --json
              easgd runs runs/msgd-s* runs/eamsgd-s* --group-seeds --paired \\
                --targets 30,25,21
            With --export tensorboard --out DIR it also writes each run's records as TensorBoard scalars (error/test, \
            loss/train, loss/test, loss/minibatch, sharpness/h_max with sharpness/h_star, eta, communication/…), one \
            run per subdirectory of DIR named as its directory, its config.json as text; then `tensorboard --logdir DIR`:
              easgd runs runs --export tensorboard --out tb
            """
    )

    @Argument(help: "Training run directories, or directories holding them.") var directories: [String]
    @Flag(help: "One row per group of runs that differ only in their seed: mean [min, max] of the errors and the mean's 95 % interval.")
    var groupSeeds = false
    @Flag(help: "With --group-seeds: each group against group 1, paired by seed (differences in points, 95 % intervals).")
    var paired = false
    @Option(help: ArgumentHelp("Test errors in percent, comma-separated (30,25,21): each run's first time at or below each.",
                               valueName: "percents"), transform: parseTargets)
    var targets: [Double] = []
    @Flag(help: "Print a JSON array (keys dir, method, workers, tau, eta, eta_schedule, momentum, alpha, seed, backend, steps_per_worker, best_test_error and final_test_error as fractions, status, …).")
    var json = false
    @Option(help: ArgumentHelp("Also write the runs for another tool: tensorboard (event files, one subdirectory per run, into --out).", valueName: "format"))
    var export: ExportFormat?
    @Option(help: "With --export: the directory to write into (created if missing; the runs' event files in it are replaced).") var out: String?

    enum ExportFormat: String, ExpressibleByArgument, CaseIterable { case tensorboard }

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one run directory") }
        if paired && !groupSeeds { throw ValidationError("--paired compares groups of seeds: add --group-seeds") }
        if export != nil {
            guard let out else { throw ValidationError("--export needs --out DIR (the directory to write the event files into)") }
            try OutputPath.checkDirectory(out, for: out)
        } else if out != nil {
            throw ValidationError("--out applies to --export")
        }
    }

    func run() throws {
        let found = directories.map { RunFiles.runDirectories($0) }
        if let empty = zip(directories, found).first(where: { $0.1.isEmpty })?.0 {
            // Exit 1, as for any run directory that cannot be read (README, "Exit status").
            guard FileManager.default.fileExists(atPath: empty) else { throw DataError("\(empty) does not exist") }
            throw DataError("\(empty) holds no training run (no config.json in it or in a directory below it)")
        }
        let runs = try found.flatMap { $0 }.map(RunSummary.read)
        if export == .tensorboard, let out {
            let names = try TensorBoardExport.write(runs, to: out)
            printError("wrote \(names.count) TensorBoard run\(names.count == 1 ? "" : "s") into \(out): \(names.joined(separator: ", ")) (tensorboard --logdir \(out))")
        }
        if groupSeeds {
            let groups = SeedGroup.group(runs)
            if json {
                print(try JSON.array(groups.enumerated().map { i, g in
                    g.json(targets: targets, paired: paired, first: i > 0 ? groups[0] : nil)
                }).render())
            } else {
                print(table([SeedGroup.tableHeader(targets: targets)]
                            + groups.enumerated().map { $1.tableRow(number: $0 + 1, targets: targets) }))
                if paired {
                    print("\nPaired by seed against group 1 (the group's error minus group 1's, in points; negative is lower):")
                    print(table([SeedGroup.pairedHeader] + groups.enumerated().dropFirst().map { $1.pairedRow(number: $0 + 1, first: groups[0]) }))
                }
            }
        } else if json {
            print(try JSON.array(runs.map { $0.json(targets: targets) }).render())
        } else {
            print(table([RunSummary.tableHeader(targets: targets)] + runs.map { $0.tableRow(targets: targets) }))
        }
    }
}

/// "30,25,21" → [0.30, 0.25, 0.21]: test errors in percent, each in (0, 100].
func parseTargets(_ text: String) throws -> [Double] {
    let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 100 }) else {
        throw ValidationError("--targets takes test errors in percent, comma-separated, each in (0, 100], e.g. 30,25,21 (got '\(text)')")
    }
    return values.map { $0! / 100 }
}

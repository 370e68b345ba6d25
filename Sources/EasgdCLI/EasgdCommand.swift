// The `easgd` command: a thin layer that parses, validates and calls `Dynamics`, `Training` and `Plotting`.

import Analysis
import Elastic
import ArgumentParser
import Records
import Foundation
import Training

public struct EasgdCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "easgd",
        abstract: "Stability analysis and CNN training for Elastic Averaging SGD (Zhang, Choromanska, LeCun 2015).",
        discussion: """
            The round map F of a round-robin scheme on F(x) = h·x²/2 is linear; the scheme is stable when its \
            spectral radius ρ(F) ≤ 1. Start with:
              easgd radius --method admm --workers 3 --eta 0.001 --rho 2.5
              easgd compare --workers 3,8 --out plots/figure1
            Train the paper's networks (Fashion-MNIST from Debian by default, CIFAR-10 with --data DIR):
              easgd train --method msgd --lr 0.02 --momentum 0.9 --batch 64 --epochs 5 \\
                --out runs/fashion
            """,
        version: Toolkit.version,
        subcommands: [RadiusCommand.self, MapCommand.self, CompareCommand.self, SimulateCommand.self,
                      NotebookCommand.self, BenchCommand.self, NetCommand.self, TrainCommand.self, PlotCommand.self,
                      VarianceCommand.self, VarianceMapCommand.self, AdviseCommand.self, TrainQuadraticCommand.self,
                      RunsCommand.self, ValidateCommand.self, SuperviseCommand.self, ExploreCommand.self, DataCommand.self]
    )

    public init() {}

    /// Entry point: parse, run, and turn every error into one line on standard error and a non-zero exit.
    public static func run() {
        var parsed: ParsableCommand
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let problem = unknownCommand(arguments) { fail(SettingsError(problem), code: ExitStatus.usage) }
        do { parsed = try parseAsRoot(joiningNegativeValues(arguments)) } catch {
            // Anything found while parsing and validating is a usage error: nothing has been done.
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            fail(error, code: ExitStatus.usage)
        }
        do {
            var command = parsed
            // Training checkpoints on a signal, the supervisor forwards it to its job; every other command cleans up
            // and stops.
            // explore stops its server cleanly on SIGINT and SIGTERM itself (it writes nothing).
            if !(command is TrainCommand) && !(command is SuperviseCommand) && !(command is ExploreCommand) { Cleanup.installSignalHandlers() }
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)        // the command has already said why
        } catch let exit as RunExit {
            Foundation.exit(exit.status)          // the run has already said why
        } catch let settings as SettingsError {
            fail(settings, code: ExitStatus.usage) // a setting that cannot be used: nothing was done
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            fail(error, code: code.rawValue)
        }
    }

    /// `--option -1` as `--option=-1`: the argument parser reads a word that starts with a dash as an option, so a
    /// negative value was reported as "Missing value for '--option'" instead of meeting the option's own range
    /// check. Only a word that is a negative number is joined (no command takes one as a positional argument), and
    /// nothing after `--` (supervise's job) is touched.
    static func joiningNegativeValues(_ arguments: [String]) -> [String] {
        var out: [String] = [], k = 0
        while k < arguments.count {
            let a = arguments[k]
            if a == "--" { return out + arguments[k...] }
            if a.hasPrefix("--"), !a.contains("="), k + 1 < arguments.count, isNegativeNumber(arguments[k + 1]) {
                out.append(a + "=" + arguments[k + 1])
                k += 2
                continue
            }
            out.append(a)
            k += 1
        }
        return out
    }

    /// The subcommands' names.
    static var commandNames: [String] { configuration.subcommands.map { $0._commandName } }

    /// "unknown command 'trian' (did you mean 'train'?)" when the first word names no command (the parser would
    /// blame the options that follow it).
    static func unknownCommand(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-"), first != "help", !commandNames.contains(first) else { return nil }
        return "unknown command '\(first)'\(nearestName(first, among: commandNames).map { " (did you mean '\($0)'?)" } ?? ""); the commands: "
            + commandNames.joined(separator: ", ")
    }

    /// A negative number, or a range LO:HI whose LO is one.
    static func isNegativeNumber(_ word: String) -> Bool {
        let parts = word.split(separator: ":", omittingEmptySubsequences: false)
        return word.hasPrefix("-") && (1...2).contains(parts.count) && parts.allSatisfy { Double($0) != nil }
    }

    /// One `easgd:` line for the error, then the exit status.
    static func fail(_ error: any Error, code: Int32) -> Never {
        let text = message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "unknown error"
        printError("easgd: \(line)")
        Foundation.exit(code)
    }
}

/// Exit status of a command that wrote its data but could not draw its figure.
let figureMissingExitCode = ExitStatus.figureMissing

struct FigureNotDrawn: Error, CustomStringConvertible {
    var warnings: [String]
    var description: String { warnings.joined(separator: "; ") }
}

/// Print to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

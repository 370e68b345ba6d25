// One name per quantity (issue 31): every command's --json, every JSON, JSON Lines and CSV file the commands and a
// run write, and the `runs` tables, use one vocabulary — snake_case keys; `eta` for the learning rate,
// `workers` for p, `spectral_radius` for ρ(F), `total_steps` or `steps_per_worker` for a step count, errors as
// fractions under `*_error` — and none of the synonyms they had before (`lr`, `p`, `radius`, `step`, `steps`,
// `best_error`, camelCase in config.json). Configs written before the rename still read. Each command's help is
// held to the same names, and its examples paste: a command line that does not fit on one line is continued with
// a backslash, never wrapped.

import CommandTesting
import Analysis
import Foundation
import Testing

/// Keys that name a quantity another key already names (or leave out whether a step count is per worker).
private let synonyms: Set<String> = ["lr", "learning_rate", "lr_schedule", "p", "radius", "max_radius", "min_radius", "step",
                                     "steps", "best_error", "final_error", "wall_s", "virtual_s", "overflow_at_step", "outer_lr",
                                     "at_step", "alpha_from_beta"]

private func isSnakeCase(_ key: String) -> Bool {
    guard let first = key.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
    return key.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
}

/// Every problem with the keys of a JSON value (recursively), `where` naming the output.
private func problems(json: Any, where place: String) -> [String] {
    var found: [String] = []
    func walk(_ v: Any) {
        if let object = v as? [String: Any] {
            for (key, value) in object {
                if !isSnakeCase(key) { found.append("\(place): key '\(key)' is not snake_case") }
                if synonyms.contains(key) { found.append("\(place): key '\(key)' is a synonym") }
                if key.hasSuffix("_error"), let x = value as? Double, !(0...1).contains(x) {
                    found.append("\(place): \(key) = \(x) is not a fraction")
                }
                walk(value)
            }
        } else if let array = v as? [Any] {
            array.forEach(walk)
        }
    }
    walk(json)
    return found
}

private func problems(header: [String], where place: String) -> [String] {
    header.flatMap { key in
        (isSnakeCase(key) ? [] : ["\(place): column '\(key)' is not snake_case"])
            + (synonyms.contains(key) ? ["\(place): column '\(key)' is a synonym"] : [])
    }
}

/// The problems of every .json, .jsonl and .csv file below `root`.
private func problems(filesBelow root: URL) throws -> (problems: [String], files: Int) {
    var found: [String] = [], files = 0
    let walker = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
    for case let url as URL in walker {
        let name = url.path.replacingOccurrences(of: root.path + "/", with: "")
        switch url.pathExtension {
        case "json":
            files += 1
            found += problems(json: try JSONSerialization.jsonObject(with: Data(contentsOf: url)), where: name)
        case "jsonl":
            files += 1
            for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
                found += problems(json: try JSONSerialization.jsonObject(with: Data(line.utf8)), where: name)
            }
        case "csv":
            files += 1
            let header = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
            found += problems(header: header.split(separator: ",").map(String.init), where: name)
        default: break
        }
    }
    return (found, files)
}

@Test func everyJSONCSVAndTableUsesOneNamePerQuantity() throws {
    let root = try temporaryDirectory()
    let out = { (name: String) in root.appendingPathComponent(name).path }
    let net = ["--net", "(1,28)C(4,24)P(4,12)S(10,1)", "--batch", "16", "--train-subset", "256", "--quiet"]
    var found: [String] = []
    // Commands whose standard output is JSON.
    let jsonCommands: [[String]] = [
        ["radius", "--method", "eamsgd", "--workers", "3", "--eta", "0.1", "--alpha", "0.1", "--json"],
        ["radius", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "2.5", "--json"],
        ["radius", "--method", "diloco", "--workers", "4", "--eta", "0.1", "--tau", "2", "--json"],
        ["radius", "--method", "easgd", "--workers", "3", "--alpha", "0.1", "--solve", "eta", "--json"],
        ["map", "--method", "eamsgd", "--workers", "3", "--eta", "0.01:1", "--alpha", "0.01:0.5", "--grid", "6x6", "--out", out("map"), "--json"],
        ["compare", "--workers", "3", "--grid", "6x6", "--out", out("compare"), "--json"],
        ["simulate", "--method", "easgd", "--workers", "3", "--eta", "0.1", "--alpha", "0.1", "--rounds", "20", "--out", out("simulate"), "--json"],
        ["map", "--method", "diloco", "--workers", "4", "--tau", "3", "--eta", "0.01:1.9", "--outer-lr-range", "0.1:2", "--grid", "6x6",
         "--out", out("diloco"), "--json"],
        ["variance", "--workers", "4", "--eta", "0.1", "--beta", "0.9", "--sigma", "1", "--t", "5", "--json"],
        ["bench", "codec", "--count", "4096", "--repeats", "1", "--json"],
        ["variance-map", "--times", "1,inf", "--grid", "8", "--out", out("variance-map"), "--json"],
        ["train-quadratic", "--method", "easgd", "--workers", "2", "--lr", "0.1", "--alpha", "0.1", "--steps", "20", "--out", out("quadratic"), "--json"],
        ["validate", "--method", "easgd", "--workers", "2", "--objective", "quadratic", "--eta", "0.01:1", "--alpha", "0.1:0.5",
         "--grid", "2x2", "--steps", "20", "--out", out("validate"), "--json"],
    ]
    for command in jsonCommands {
        let r = try easgd(command)
        #expect(r.status == 0, "\(command.joined(separator: " ")): \(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        found += problems(json: json, where: command.prefix(2).joined(separator: " ") + " --json")
    }
    // Training runs of both kinds (a sharpness measurement adds its columns), resumed with a new rate.
    let runs = root.appendingPathComponent("runs")
    try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
    for (name, arguments) in [("parallel", ["--method", "eamsgd", "--workers", "2", "--backend", "simulated", "--steps", "16",
                                            "--sharpness-every", "16"]),
                              ("sequential", ["--method", "msgd", "--steps", "16"])] {
        let dir = runs.appendingPathComponent(name).path
        let r = try easgd(["train", "--lr", "0.02", "--out", dir] + arguments + net)
        #expect(r.status == 0, "\(r.stderr)")
        let resumed = try easgd(["train", "--resume", dir, "--steps", "24", "--lr", "0.01", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }
    for command in [["runs", runs.path, "--json"], ["runs", runs.path, "--group-seeds", "--json"],
                    ["advise", runs.appendingPathComponent("parallel").path, "--out", out("advise"), "--json"]] {
        let r = try easgd(command)
        #expect(r.status == 0, "\(command.joined(separator: " ")): \(r.stderr)")
        found += problems(json: try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), where: command.prefix(1).joined() + " --json")
    }
    for command in [["runs", runs.path], ["runs", runs.path, "--group-seeds"]] {
        let r = try easgd(command)
        #expect(r.status == 0, "\(r.stderr)")
        // The table's header: its columns are separated by two spaces or more.
        let header = try #require(r.stdout.split(separator: "\n").first).components(separatedBy: "  ")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { $0.replacingOccurrences(of: " mean [min, max]", with: "") }
        found += problems(header: header, where: command.joined(separator: " ") + " (table)")
        #expect(header.contains("workers") && header.contains("eta") && header.contains("steps_per_worker"), "\(header)")
    }
    for (arguments, name) in [([runs.appendingPathComponent("parallel").path, "--sharpness"], "plot-sharpness"),
                              ([runs.appendingPathComponent("parallel").path, runs.appendingPathComponent("sequential").path, "--x", "steps"], "plot")] {
        let plot = try easgd(["plot"] + arguments + ["--out", out(name)])
        #expect(plot.status == 0, "\(plot.stderr)")
    }
    let files = try problems(filesBelow: root)
    found += files.problems
    #expect(files.files >= 25, "only \(files.files) files were read")
    #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    // The config of the run resumed with a new rate holds the change under today's names.
    let config = try String(contentsOf: runs.appendingPathComponent("parallel/config.json"), encoding: .utf8)
    #expect(config.contains("\"at_total_steps\" : 32") && config.contains("\"eta\" : [") && config.contains("\"steps_per_worker\" : 24"),
            "\(config)")
    // An EASGD-family run records only the hyper-parameters its method takes: δ for EAMSGD, no ρ or moving rate.
    #expect(config.contains("\"momentum\"") && !config.contains("\"rho\"") && !config.contains("\"moving_rate\""))
}

@Test func configsWrittenBeforeTheRenameStillRead() throws {
    // A camelCase config as the builds of 2026-12-05 wrote it (learningRate, lrSchedule, alphaFromBeta, budget.steps,
    // changes[].atStep), beside the records of that build (`step`, `lr`): `runs` reads it under today's names.
    let dir = try temporaryDirectory().appendingPathComponent("old")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try """
    {"runID": "R", "settings": {"alpha": 0.45, "alphaFromBeta": 0.9, "backend": "simulated", "batch": 16,
     "budget": {"steps": 8}, "changes": [{"atStep": 8, "date": "2026-12-05T00:00:00Z", "learningRate": [0.02, 0.01]}],
     "communicationSeconds": 0, "data": "fashion-mnist", "evalEvery": "8", "learningRate": 0.01, "method": "easgd",
     "momentum": 0.99, "movingRate": 0.001, "net": "small", "netSpec": "(1,28)C(4,24)P(4,12)S(10,1)", "rho": 1,
     "seed": 3, "simulatorOrder": "clock", "tau": 2, "weightDecay": 0.0001, "workers": 2}}
    """.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    try """
    {"step":0,"samples":0,"epoch":0.0,"seconds":0.0,"wall_seconds":0.0,"train_loss":2.3,"minibatch_loss":null,"test_loss":2.3,"test_error":0.9,"worker_steps":[0,0],"lr":0.02}
    {"step":16,"samples":256,"epoch":1.0,"seconds":1.0,"wall_seconds":2.0,"train_loss":2.0,"minibatch_loss":2.1,"test_loss":2.0,"test_error":0.7,"worker_steps":[8,8],"lr":0.01}

    """.write(to: dir.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
    let r = try easgd(["runs", dir.path, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let row = try #require((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])?.first)
    #expect(jsonNumber(row["eta"]) == 0.01 && jsonNumber(row["steps_per_worker"]) == 8 && jsonNumber(row["tau"]) == 2
            && jsonNumber(row["seed"]) == 3 && jsonNumber(row["best_test_error"]) == 0.7, "\(row)")
    #expect((row["eta_schedule"] as? String)?.contains("η 0.02 → 0.01 at step 8") == true, "\(row)")
    #expect(row["status"] as? String == "completed", "\(row)")
}

/// Every command path, from the root's and each group's list of subcommands.
private func commandPaths() throws -> [[String]] {
    func subcommands(_ path: [String]) throws -> [String] {
        let help = try easgd(["help"] + path).stdout
        guard let start = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        return help[start.upperBound...].split(separator: "\n").compactMap { line in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first,
                  name.first?.isLowercase == true else { return nil }
            return String(name)
        }
    }
    var paths: [[String]] = []
    for name in try subcommands([]) {
        let children = try subcommands([name])
        paths += children.isEmpty ? [[name]] : children.map { [name, $0] }
    }
    return paths
}

@Test func everyCommandsHelpUsesTheVocabularyAndItsExamplesPaste() throws {
    let paths = try commandPaths()
    #expect(paths.count >= 20, "\(paths)")
    var found: [String] = []
    for path in [[]] + paths {
        let r = try easgd(["help"] + path)
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (k, line) in lines.enumerated() {
            // Output keys are named as the outputs name them: a key-like word (with an underscore, or `lr`; options
            // such as --lr are not keys, and prose may say "the spectral radius" or "steps").
            for word in line.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                if synonyms.contains(String(word)) && (word.contains("_") || word == "lr") {
                    found.append("help \(path.joined(separator: " ")): '\(word)' in: \(line)")
                }
            }
            // An example is an indented line starting with `easgd `; one that goes on must end in a backslash, and its
            // continuation is indented (a wrapped one starts at the margin).
            if line.hasPrefix("  easgd ") || (k > 0 && lines[k - 1].hasSuffix("\\")) {
                #expect(line.count <= 80, "help \(path.joined(separator: " ")): example wider than 80 columns: \(line)")
                if k + 1 < lines.count, !line.hasSuffix("\\") {
                    let next = lines[k + 1]
                    let continues = next.hasPrefix("--") || next.first.map { !$0.isWhitespace && !$0.isUppercase } == true
                        && !next.isEmpty && !next.hasSuffix(":")
                    if continues { found.append("help \(path.joined(separator: " ")): example wrapped after: \(line)") }
                }
            }
        }
    }
    #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    // What the help says of exit statuses is what the commands return (train's said a divergence exited 1).
    let train = try easgd(["help", "train"]).stdout.replacingOccurrences(of: "\n", with: " ")
    #expect(train.contains("Exit status: 0 done, \(ExitStatus.failure) error, \(ExitStatus.diverged) divergence")
            && train.contains("\(ExitStatus.usage) bad settings"), "\(train)")
    let supervise = try easgd(["help", "supervise"]).stdout.replacingOccurrences(of: "\n", with: " ")
    #expect(supervise.contains("diverges (exit \(ExitStatus.diverged)) or has bad settings (\(ExitStatus.usage))"))
}

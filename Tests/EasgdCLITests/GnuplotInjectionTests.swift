// No text reaches gnuplot as a statement: every command that draws, with each text input it hands to gnuplot (output
// paths, run directories' names, labels, titles) carrying strings that would end a gnuplot statement or name a shell
// pipe if they were not quoted as data. gnuplot runs shell commands through system(), backquotes, `set output '|…'`
// and data files named `< …`; each payload would create a sentinel file `pwned-N` in the command's directory if any
// of it ran. The figures must still be drawn (the text is the figure's, not an error).

import CommandTesting
import Foundation
import Testing

/// Payloads usable as file names (no `/`): newline, quotes of both kinds, `;`, backquotes, `system(`, a backslash
/// before a newline (gnuplot's line continuation), carriage return, non-ASCII and markup, and the pipe prefixes.
let injectionPayloads = [
    "n\nsystem(\"touch pwned-1\")\n",
    "q'\nsystem('touch pwned-2')\n'",
    "d\"; system(\"touch pwned-3\"); \"",
    "b`touch pwned-4`",
    "c\\\nsystem(\"touch pwned-5\")",
    "r\r\nsystem(\"touch pwned-6\")",
    "u é ∞ 中 ; @m {x}_y",
    "< touch pwned-7",
    "| touch pwned-8",
]

/// Files named `pwned-N` anywhere below `dir`.
func sentinels(below dir: URL) -> [String] {
    let walk = FileManager.default.enumerator(atPath: dir.path)
    var found: [String] = []
    while let path = walk?.nextObject() as? String {
        if URL(fileURLWithPath: path).lastPathComponent.hasPrefix("pwned-") { found.append(path) }
    }
    return found
}

@Test(arguments: ["map", "compare", "simulate", "variance-map", "validate", "advise", "plot"])
func noTextReachesGnuplotAsAStatement(command: String) throws {
    let sandbox = try temporaryDirectory()
    // A run with sharpness records, for advise and plot (and plot --sharpness).
    let run = sandbox.appendingPathComponent("run")
    if command == "advise" || command == "plot" {
        let train = try easgd(["train", "--method", "msgd", "--lr", "0.01", "--momentum", "0.9", "--net", "(1,28)C(4,24)P(4,12)D(16,1)S(10,1)",
                               "--batch", "16", "--steps", "20", "--eval-every", "10", "--sharpness-every", "10", "--threads", "1",
                               "--quiet", "--out", run.path])
        try #require(train.status == 0, "\(train.stderr)")
    }
    for (k, payload) in injectionPayloads.enumerated() {
        // Each payload in a directory of its own, used as the working directory, so a relative output path starts with
        // the payload (as `< …` and `| …` must, to be read as pipes).
        let cwd = sandbox.appendingPathComponent("case-\(k)")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        var invocations: [(arguments: [String], figures: [String])] = []
        switch command {
        case "map":
            invocations = [(["map", "--method", "easgd", "--workers", "2", "--eta", "0.1:1", "--alpha", "0.1:0.5", "--grid", "6x6", "--out", payload],
                            [payload + ".png"])]
        case "compare":
            invocations = [(["compare", "--workers", "2", "--grid", "6x6", "--out", payload], [payload + "/compare.png"])]
        case "simulate":
            invocations = [(["simulate", "--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "2.5", "--rounds", "50",
                             "--init", "1000", "--out", payload], [payload + ".png"])]
        case "variance-map":
            invocations = [(["variance-map", "--workers", "1,10", "--times", "1,inf", "--grid", "8", "--out", payload],
                            [payload + ".png", payload + "-compare.png"])]
        case "validate":
            invocations = [(["validate", "--method", "easgd", "--objective", "quadratic", "--eta", "0.1:1", "--alpha", "0.1:0.5",
                             "--grid", "2x2", "--steps", "20", "--jobs", "1", "--out", payload], [payload + "/validation.png"])]
        case "advise":
            // The run directory's name and the output prefix.
            try FileManager.default.copyItem(at: run, to: cwd.appendingPathComponent(payload))
            invocations = [(["advise", payload, "--batch", "16", "--out", payload + "-advice"], [payload + "-advice.png"])]
        default:
            // The default label and title are the run directory's name; then an explicit label and title.
            try FileManager.default.copyItem(at: run, to: cwd.appendingPathComponent(payload))
            invocations = [
                (["plot", payload, "--sharpness", "--out", payload], [payload + ".png", payload + "-sharpness.png"]),
                (["plot", payload, "--label", payload, "--title", payload, "--sharpness", "--format", "png,svg,pdf", "--out", payload + "-2"],
                 ["png", "svg", "pdf"].flatMap { [payload + "-2." + $0, payload + "-2-sharpness." + $0] }),
            ]
        }
        for (arguments, figures) in invocations {
            let r = try easgd(arguments, in: cwd)
            #expect(r.status == 0, "\(command) payload \(k): \(r.stderr)")
            for figure in figures {
                #expect(FileManager.default.fileExists(atPath: cwd.appendingPathComponent(figure).path), "\(command) payload \(k): \(figure) not drawn")
            }
        }
    }
    #expect(sentinels(below: sandbox).isEmpty, "\(command): a payload ran: \(sentinels(below: sandbox))")
}

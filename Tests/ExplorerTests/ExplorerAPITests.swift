// The explorer's API through its router (as Hummingbird's server calls it): every endpoint against the JSON (and
// the files) of the command it stands for, run as the `easgd` executable; bad parameters, traversal attempts,
// oversized grids; the supersession of stale maps; and the server as a process (its address line, SIGTERM, --host's
// warning).

import CommandTesting
@testable import EasgdCLI
@testable import Explorer
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOEmbedded
import Testing

private func scratch() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("easgd-explore-test-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The numbers of `"key": [a, b, …]` (or every `"key": x` of an array of objects) read from the text itself: Foundation's
/// JSON parser can be an ulp off, and the API's numbers are the commands' own to the last digit.
private func numbers(_ key: String, in text: String) -> [Double] {
    var out: [Double] = []
    var rest = text[...]
    while let range = rest.range(of: "\"\(key)\": ") {
        rest = rest[range.upperBound...]
        if rest.hasPrefix("[") {
            let end = rest.firstIndex(of: "]")!
            out += rest[rest.index(after: rest.startIndex)..<end].split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces))! }
            return out
        }
        let end = rest.firstIndex { $0 == "," || $0 == "\n" || $0 == "}" }!
        out.append(Double(rest[..<end])!)
    }
    return out
}

private func object(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(200))")
}

/// The body of a response, as the server would write it.
private struct CollectedBody: ResponseBodyWriter {
    let bytes = NIOLockedValueBox(ByteBuffer())
    func write(_ buffer: ByteBuffer) async throws { _ = bytes.withLockedValue { $0.writeImmutableBuffer(buffer) } }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// GET `uri` from the explorer with the given roots: status and body. The request goes to the explorer's router
/// itself, as Hummingbird's server hands it over (a handler's `HTTPResponseError` becomes its response in the
/// router; anything else thrown is the server's 500), without a socket.
private func get(_ uri: String, roots: [String] = [], workLimit: Int = 8) async throws -> (status: Int, body: String) {
    var explorer = Explorer(host: "127.0.0.1", port: 0, catalog: try RunCatalog(roots: roots), api: ExploreAPI.api)
    explorer.workLimit = workLimit
    let responder = explorer.router().buildResponder()
    let request = Request(head: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: uri), body: RequestBody(buffer: ByteBuffer()))
    let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: NIOAsyncTestingChannel(), logger: Logger(label: "explorer-test")))
    let response: Response
    do { response = try await responder.respond(to: request, context: context) } catch { response = Response(status: .internalServerError) }
    let body = CollectedBody()
    try await response.body.write(body)
    return (response.status.code, String(buffer: body.bytes.withLockedValue { $0 }))
}

@Test func radiusAnswersExactlyWhatRadiusJsonPrints() async throws {
    for (query, arguments) in [
        ("method=easgd&workers=3&eta=0.5&alpha=0.3", ["--method", "easgd", "--workers", "3", "--eta", "0.5", "--alpha", "0.3"]),
        ("method=admm&workers=3&eta=0.001&rho=2.5&schedule=random", ["--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "2.5", "--schedule", "random"]),
        ("method=eamsgd&workers=4&eta=0.1&alpha=0.225&solve=momentum", ["--method", "eamsgd", "--workers", "4", "--eta", "0.1", "--alpha", "0.225", "--solve", "momentum"]),
        ("method=diloco&workers=4&eta=0.3&tau=4&sigma=1&outer_lr=0.7", ["--method", "diloco", "--workers", "4", "--eta", "0.3", "--tau", "4", "--sigma", "1", "--outer-lr", "0.7"]),
    ] {
        let api = try await get("/api/radius?" + query)
        let command = try easgd(["radius"] + arguments + ["--json"])
        #expect(command.status == 0, "\(command.stderr)")
        #expect(api.status == 200)
        // The same text: the same keys, the same numbers in the same order.
        #expect(api.body == command.stdout, "\(query)")
    }
}

@Test func mapAnswersMapsSummaryAndTheGridAndBoundaryItWrites() async throws {
    let dir = try scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let settings = [("method", "admm"), ("workers", "8"), ("eta", "0.00001:0.01"), ("rho", "0.01:10"), ("grid", "23x17")]
    let api = try await get("/api/map?" + settings.map { "\($0.0)=\($0.1)" }.joined(separator: "&"))
    #expect(api.status == 200)
    let prefix = dir.appendingPathComponent("m").path
    let command = try easgd(["map"] + settings.flatMap { ["--\($0.0)", $0.1] } + ["--out", prefix, "--json"])
    #expect(command.status == 0 || command.status == 3, "\(command.stderr)")
    var answer = try object(api.body), summary = try object(command.stdout)
    answer["timing"] = nil
    summary["timing"] = nil
    for (key, value) in summary { #expect((answer[key] as? NSObject) == (value as? NSObject), "\(key)") }
    // The grid: eta fastest, every radius the CSV's number.
    let rows = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n").dropFirst()
    let radii = numbers("radii", in: api.body)
    #expect(radii.count == 23 * 17 && rows.count == 23 * 17)
    for (k, row) in rows.enumerated() { #expect(Double(row.split(separator: ",")[2]) == radii[k], "row \(k)") }
    let etas = numbers("eta_values", in: api.body)
    for (k, row) in rows.prefix(23).enumerated() { #expect(Double(row.split(separator: ",")[0]) == etas[k]) }
    // The boundary: the -boundary.csv's points.
    let boundaryRows = try String(contentsOfFile: prefix + "-boundary.csv", encoding: .utf8).split(separator: "\n").dropFirst()
    let boundaryText = String(api.body[api.body.range(of: "\"boundary\": [")!.lowerBound...])
    let boundaryEta = numbers("eta", in: boundaryText), boundarySecond = numbers("second", in: boundaryText)
    #expect(boundaryEta.count == boundaryRows.count && boundarySecond.count == boundaryRows.count && !boundaryRows.isEmpty)
    for (k, row) in boundaryRows.enumerated() {
        let fields = row.split(separator: ",")
        #expect(boundaryEta[k] == Double(fields[0]) && boundarySecond[k] == Double(fields[1]), "boundary point \(k)")
    }
    #expect(answer["second_axis"] as? String == "rho")
}

@Test func mapCarriesThePapersConditionForEasgdOverEtaAndAlpha() async throws {
    let api = try await get("/api/map?method=easgd&workers=3&eta=0.002:2.4&alpha=0.002:1.2&grid=20x20")
    #expect(api.status == 200)
    let condition = try #require(try object(api.body)["paper_condition"] as? [String: Any])
    let eta = try #require(condition["eta"] as? [NSNumber]), alpha = try #require(condition["alpha"] as? [NSNumber])
    #expect(eta.count == alpha.count && eta.count > 10)
}

@Test func simulateAnswersSimulateJsonAndAnEnvelopeOfItsCsv() async throws {
    let dir = try scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let arguments = ["--method", "admm", "--workers", "3", "--eta", "0.001", "--rho", "2.5", "--rounds", "5000"]
    let api = try await get("/api/simulate?method=admm&workers=3&eta=0.001&rho=2.5&rounds=5000")
    #expect(api.status == 200)
    let prefix = dir.appendingPathComponent("s").path
    let command = try easgd(["simulate"] + arguments + ["--out", prefix, "--json"])
    #expect(command.status == 0 || command.status == 3, "\(command.stderr)")
    let answer = try object(api.body), printed = try object(command.stdout)
    for (key, value) in printed { #expect((answer[key] as? NSObject) == (value as? NSObject), "\(key)") }
    // The envelope recomputed from the CSV: spans of ⌈5001 / 2000⌉ = 3 rounds, least and largest log10 max|s|.
    let values = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n").dropFirst()
        .map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[2]) }
    #expect(values.count == 5001)
    var rounds: [Int] = [], low: [Double] = [], high: [Double] = []
    for start in stride(from: 0, to: values.count, by: 3) {
        let span = values[start..<min(start + 3, values.count)].compactMap { $0 }
        guard let lo = span.min(), let hi = span.max() else { continue }
        rounds.append(start); low.append(lo); high.append(hi)
    }
    #expect((answer["round"] as? [NSNumber])?.map(\.intValue) == rounds)
    #expect(numbers("log10_max_abs_low", in: api.body) == low)
    #expect(numbers("log10_max_abs_high", in: api.body) == high)
}

@Test func badQueriesGetAJsonErrorWithTheirStatus() async throws {
    let cases: [(uri: String, status: Int, says: String)] = [
        ("/api/radius?method=easgd&workers=3&eta=0.5", 400, "--rho or --alpha"),
        ("/api/radius?method=nonsense&workers=3&eta=0.5&alpha=0.1", 400, "nonsense"),
        ("/api/radius?method=easgd&workers=-2&eta=0.5&alpha=0.1", 400, "workers"),
        ("/api/radius?method=easgd&workers=3&eta=0.5&alpha=0.1&bogus=1", 400, "bogus"),
        ("/api/radius?method=easgd&workers=3&eta=0.5&alpha=0.1&out=/tmp/x", 400, "out"),
        ("/api/radius?method=easgd&workers=3&eta=abc&alpha=0.1", 400, "eta"),
        ("/api/radius?method=easgd&work%20ers=3", 400, "bad query parameter name"),
        ("/api/map?method=admm&workers=8&eta=0.00001:0.01&rho=0.01:10&grid=1000x1000", 400, "at most 160000"),
        ("/api/map?method=admm&workers=8&eta=0.01:0.00001&rho=0.01:10", 400, "eta"),
        ("/api/simulate?method=admm&workers=3&eta=0.001&rho=2.5&rounds=10000000", 400, "at most 100000 rounds"),
        ("/api/simulate?method=diloco&workers=3&eta=0.1&rounds=10", 400, "round-robin"),
        ("/api/map?method=admm&workers=8&eta=0.00001:0.01&rho=0.01:10&channel=a&seq=-1", 400, "seq"),
        ("/api/nothing", 404, "no such endpoint"),
        ("/api/runs/0123456789abcdef/metrics", 404, "no such run"),
    ]
    for c in cases {
        let answer = try await get(c.uri)
        #expect(answer.status == c.status, "\(c.uri): \(answer.body)")
        let error = try object(answer.body)["error"] as? String
        #expect(error?.contains(c.says) == true, "\(c.uri): \(answer.body)")
        #expect(error?.contains("\n") == false)
    }
}

@Test func aNewerMapOnTheSameChannelStopsTheOlderOne() throws {
    let supersession = Supersession()
    let first = supersession.begin("a"), other = supersession.begin("b")
    #expect(!first())
    let second = supersession.begin("a")
    #expect(first() && !second() && !other())
    #expect(!supersession.begin(nil)())
    // With the client's sequence numbers, an older request arriving after a newer one stops at once and leaves the
    // newer one running.
    let newer = supersession.begin("c", sequence: 5), older = supersession.begin("c", sequence: 4)
    #expect(older() && !newer())
    let newest = supersession.begin("c", sequence: 6)
    #expect(newer() && !newest())
    // A stopped map answers 409, before its boundary is traced.
    #expect(throws: ExplorerError.self) {
        _ = try ExploreAPI.map([("method", "admm"), ("workers", "8"), ("eta", "0.00001:0.01"), ("rho", "0.01:10")], shouldStop: { true })
    }
    do {
        _ = try ExploreAPI.map([("method", "admm"), ("workers", "8"), ("eta", "0.00001:0.01"), ("rho", "0.01:10")], shouldStop: { true })
    } catch let error as ExplorerError {
        #expect(error.status == 409)
    }
}

@Test func tooMuchWorkInFlightGets503() async throws {
    let answer = try await get("/api/radius?method=easgd&workers=3&eta=0.5&alpha=0.3", workLimit: 0)
    #expect(answer.status == 503)
    #expect(try object(answer.body)["error"] as? String != nil)
}

@Test func thePageIsServedWhole() async throws {
    let page = try await get("/")
    #expect(page.status == 200)
    #expect(page.body.hasPrefix("<!DOCTYPE html>") && page.body.contains("</html>"))
    // Nothing it needs comes from elsewhere: no external scripts, styles or fonts.
    #expect(!page.body.contains("http://") && !page.body.contains("https://") && !page.body.contains("src=\"//"))
}

/// A small training run (Fashion-MNIST, a tiny net, a few steps) in `dir`.
private func trainTinyRun(_ dir: URL, seed: Int) throws {
    try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
    let run = try easgd(["train", "--method", "msgd", "--lr", "0.02", "--momentum", "0.9", "--net", "(1,28)C(4,24)P(4,12)D(16,1)S(10,1)",
                         "--batch", "16", "--steps", "6", "--eval-every", "3", "--test-subset", "200", "--seed", "\(seed)",
                         "--threads", "1", "--quiet", "--out", dir.path])
    #expect(run.status == 0, "\(run.stderr)")
}

@Test func runsAnswerRunsJsonAndTheirMetricsAndNothingOutsideTheirRoots() async throws {
    let root = try scratch(), outside = try scratch()
    defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: outside) }
    try trainTinyRun(root.appendingPathComponent("a/seed1"), seed: 1)
    try trainTinyRun(root.appendingPathComponent("a/seed2"), seed: 2)
    try trainTinyRun(outside.appendingPathComponent("secret"), seed: 3)
    // A symlink in the root that leads out of it: not listed, not served.
    try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("link").path, withDestinationPath: outside.appendingPathComponent("secret").path)

    let listing = try await get("/api/runs", roots: [root.path])
    #expect(listing.status == 200)
    let runs = try #require(try JSONSerialization.jsonObject(with: Data(listing.body.utf8)) as? [[String: Any]])
    let command = try easgd(["runs", root.appendingPathComponent("a").path, "--json"])
    let printed = try #require(try JSONSerialization.jsonObject(with: Data(command.stdout.utf8)) as? [[String: Any]])
    #expect(runs.count == 2 && printed.count == 2)
    for (served, own) in zip(runs, printed) {
        for (key, value) in own { #expect((served[key] as? NSObject) == (value as? NSObject), "\(key)") }
        #expect((served["id"] as? String)?.count == 16)
    }
    #expect(!listing.body.contains("secret"))

    // Metrics: the run's metrics.jsonl, record by record.
    let id = try #require(runs[0]["id"] as? String)
    let metrics = try await get("/api/runs/\(id)/metrics", roots: [root.path])
    #expect(metrics.status == 200)
    let records = try #require(try object(metrics.body)["records"] as? [[String: Any]])
    let lines = try String(contentsOfFile: root.appendingPathComponent("a/seed1/metrics.jsonl").path, encoding: .utf8).split(separator: "\n")
    #expect(records.count == lines.count && records.count >= 2)
    for (record, line) in zip(records, lines) { #expect(NSDictionary(dictionary: record) == NSDictionary(dictionary: try object(String(line)))) }

    // Paths are never read from a request: traversal, absolute paths and encoded slashes are unknown runs.
    for attempt in ["/api/runs/..%2F..%2Fetc%2Fpasswd/metrics", "/api/runs/%2Fetc%2Fpasswd/metrics", "/api/runs/../../etc/passwd/metrics",
                    "/api/runs/a%2Fseed1/metrics", "/api/runs/\(root.path)/metrics", "/api/runs/link/metrics"] {
        let answer = try await get(attempt, roots: [root.path])
        #expect(answer.status == 404, "\(attempt): \(answer.body)")
        #expect(!answer.body.contains("passwd:") && !answer.body.contains("total_steps"))
    }
}

// MARK: the server as a process

private final class Lines: @unchecked Sendable {
    private var text = ""
    private let lock = NSLock()
    func append(_ data: Data) { lock.withLock { text += String(decoding: data, as: UTF8.self) } }
    var value: String { lock.withLock { text } }
}

/// Starts `easgd explore` with `arguments`, waits (up to 20 s) for its address line, and returns the process,
/// its standard output and error so far, and the address.
private func startExplorer(_ arguments: [String]) throws -> (Process, Lines, Lines, String?) {
    let process = Process()
    process.executableURL = easgdBinary
    process.arguments = ["explore", "--port", "0"] + arguments
    let out = Pipe(), err = Pipe(), stdout = Lines(), stderr = Lines()
    out.fileHandleForReading.readabilityHandler = { stdout.append($0.availableData) }
    err.fileHandleForReading.readabilityHandler = { stderr.append($0.availableData) }
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline, process.isRunning, !stdout.value.contains("serving http") { usleep(20_000) }
    let address = stdout.value.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init)
    return (process, stdout, stderr, address)
}

@Test func theServerPrintsItsAddressServesAndStopsCleanlyOnSigterm() async throws {
    let (process, _, stderr, address) = try startExplorer([])
    defer { if process.isRunning { process.terminate() } }
    let url = try #require(address, "no address line: \(stderr.value)")
    #expect(url.hasPrefix("http://127.0.0.1:"))
    let (data, response) = try await URLSession.shared.data(from: URL(string: url + "api/radius?method=easgd&workers=3&eta=0.5&alpha=0.3")!)
    #expect((response as? HTTPURLResponse)?.statusCode == 200)
    #expect(try object(String(decoding: data, as: UTF8.self))["spectral_radius"] != nil)
    kill(process.processIdentifier, SIGTERM)
    let deadline = Date().addingTimeInterval(20)
    while process.isRunning, Date() < deadline { usleep(20_000) }
    #expect(!process.isRunning)
    #expect(process.terminationStatus == 0, "\(stderr.value)")
}

@Test func anotherHostIsSaidAndAMissingRunDirectoryRefused() throws {
    let (process, _, stderr, address) = try startExplorer(["--host", "0.0.0.0"])
    defer { if process.isRunning { process.terminate() } }
    #expect(address != nil)
    #expect(stderr.value.contains("listening on 0.0.0.0, not only this machine"))
    process.interrupt()                                 // SIGINT stops it as SIGTERM does
    let deadline = Date().addingTimeInterval(20)
    while process.isRunning, Date() < deadline { usleep(20_000) }
    #expect(!process.isRunning && process.terminationStatus == 0)

    let missing = try easgd(["explore", "/nonexistent-easgd-runs"])
    #expect(missing.status == 1)
    #expect(missing.stderr == "easgd: /nonexistent-easgd-runs is not a directory\n")
    let badPort = try easgd(["explore", "--port", "70000"])
    #expect(badPort.status == 64 && badPort.stderr.hasPrefix("easgd: "))
}

// easgd explore: the stability explorer and the runs view in the browser (a local web server; Explorer.swift).
// The API's parameters are the commands' options: each query is parsed by the option group of the command it
// stands for (radius, map's MapOptions, simulate's TrajectoryOptions), so it is checked by the same rules and
// answered with the same JSON.

import Analysis
import ArgumentParser
import Dynamics
import Elastic
import Explorer
import Foundation
import Records
import Synchronization
import Training

struct ExploreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Explore stability maps and watch training runs in the browser (a local web server).",
        discussion: """
            Serves one page and a JSON API on http://127.0.0.1:8080/ until Ctrl-C (SIGINT) or SIGTERM, then exits \
            with 0. The page: a map of ρ(F) over two axes (method, p, τ, δ, h and the worker order chosen on the \
            page), drawn coarse first and refined; hover for ρ(F), click for the eigenvalues on the unit circle and a \
            simulated trajectory against ln ρ(F); two methods side by side (EASGD next to ADMM is Figure 1); and the \
            runs given, with their curves updating while they train (every 5 s) and seed groups as bands.
              easgd explore
              easgd explore runs/ --port 9000
            Read-only: it never writes, moves or deletes. It binds 127.0.0.1 unless --host says otherwise, and serves \
            run data only from the directories given (a run is named by an id from /api/runs, never by a path).
            The API answers GET with JSON; its parameters are the commands' options (flags as NAME=true). An error is \
            {"error": "..."} with 400 for a bad query, 404, 409 when a newer request on the same channel superseded \
            it, 422 when the settings cannot be computed, or 503 when too much is in flight.
              /api/radius?method=easgd&workers=3&eta=0.5&alpha=0.3
            What radius --json prints (solve=eta and radius's other options too).
              /api/map?method=admm&workers=8&eta=0.00001:0.01&rho=0.01:10&grid=200x200
            map --json's summary with eta_values, second_values, radii (η fastest), boundary and the paper's EASGD \
            condition where it applies; at most \(Limits.explorerMapPoints) points. With channel=NAME&seq=N a newer \
            request (a larger N) on the channel stops an older one at its next row.
              /api/simulate?method=admm&workers=3&eta=0.001&rho=2.5&rounds=2000
            What simulate --json prints, with log10 max|s| in at most \(Limits.explorerSimulatePoints) spans of rounds, \
            each its least and largest value (an oscillation cannot alias); at most \(Limits.explorerRounds) rounds.
              /api/runs
            runs --json's objects, each with its id.
              /api/runs/ID/metrics
            The run's metrics.jsonl records.
            """
    )

    @Argument(help: "Training run directories, or directories holding them (at any depth), for the runs view.") var directories: [String] = []
    @Option(help: "A directory holding runs (the same as giving it as an argument; repeatable).") var runs: [String] = []
    @Option(help: "Port to listen on (0: any free port; the address is printed).") var port = 8080
    @Option(help: "Address to listen on. Anything but 127.0.0.1, ::1 or localhost lets other machines read the runs given.")
    var host = "127.0.0.1"

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535 (got \(port))") }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) }) else {
            throw ValidationError("--host must be an address or a host name (got '\(host.prefix(40))')")
        }
    }

    func run() throws {
        let catalog = try RunCatalog(roots: directories + runs)
        if !["127.0.0.1", "::1", "localhost"].contains(host) {
            printError("easgd explore: listening on \(host), not only this machine: anyone who can reach it can read the maps and the runs given")
        }
        let explorer = Explorer(host: host, port: port, catalog: catalog, api: ExploreAPI.api)
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        let host = self.host
        Task {
            do {
                try await explorer.run { port in
                    let shown = host.contains(":") ? "[\(host)]" : host
                    // Written at once (not through stdout's buffer): a script waiting for the address reads it now.
                    FileHandle.standardOutput.write(Data("easgd explore: serving http://\(shown):\(port)/ (Ctrl-C stops)\n".utf8))
                }
            } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) {
            throw DataError("cannot serve on \(host):\(port): \(error)")
        }
    }
}

extension Limits {
    /// The explorer's bounds on one request: map points, simulated rounds and the points of a trajectory sent.
    static let explorerMapPoints = 160_000
    static let explorerRounds = 100_000
    static let explorerSimulatePoints = 2_000
}

/// The API's computations, each through its command's options.
enum ExploreAPI {
    static let api = ExplorerAPI(radius: radius, map: map, simulate: simulate)

    /// Query parameters as a command line: `eta=0.5` is `--eta=0.5`; `log-eta=true` (or no value) the flag
    /// `--log-eta`, and `=false` leaves it out.
    static func arguments(_ query: ExplorerAPI.Query) -> [String] {
        query.compactMap { item in
            switch item.value.lowercased() {
            case "", "true": "--\(item.name)"
            case "false": nil
            default: "--\(item.name)=\(item.value)"
            }
        }
    }

    /// The query parsed and validated as `T`'s options; what the parser refuses is a 400 with its message.
    static func parse<T: ParsableArguments>(_ type: T.Type, _ query: ExplorerAPI.Query) throws -> T {
        let names: Set<String> = ["json", "out", "help", "version", "svg"]
        if let bad = query.first(where: { names.contains($0.name) }) {
            throw ExplorerError(400, "'\(bad.name)' is not a parameter of the API (it answers JSON and writes nothing)")
        }
        do { return try T.parse(arguments(query)) } catch {
            throw ExplorerError(400, T.message(for: error))
        }
    }

    /// A computation's error as the API says it: a setting is the query's fault (400), the rest cannot be computed (422).
    static func computing<T>(_ work: () throws -> T) throws -> T {
        do { return try work() } catch let error as ExplorerError { throw error } catch StabilityMapError.stopped {
            throw ExplorerError(409, "superseded by a newer request on the same channel")
        } catch let error as SettingsError {
            throw ExplorerError(400, error.description)
        } catch let error as ValidationError {
            throw ExplorerError(400, error.message)
        } catch {
            throw ExplorerError(422, "\(error)")
        }
    }

    static func radius(_ query: ExplorerAPI.Query) throws -> JSON {
        let command = try parse(RadiusCommand.self, query)
        return try computing { try command.jsonResult() }
    }

    static func map(_ query: ExplorerAPI.Query, shouldStop: @escaping @Sendable () -> Bool) throws -> JSON {
        let options = try parse(MapOptions.self, query)
        let spec = options.spec
        let points = spec.eta.count * spec.second.count
        guard points <= Limits.explorerMapPoints else {
            throw ExplorerError(400, "a grid of \(spec.eta.count)x\(spec.second.count) is \(points) points; the explorer computes at most \(Limits.explorerMapPoints) per request")
        }
        return try computing {
            let computed = try computeMap(spec, shouldStop: shouldStop)
            guard case .object(let summary) = mapSummary(computed) else { return .null }
            let boundary: [JSON] = computed.boundary.map { b in
                .object([("eta", .number(b.eta)), ("second", .number(b.second)), ("crossing", .integer(b.crossing)),
                         ("becomes_unstable", .bool(b.becomesUnstable)), ("spectral_radius", .number(b.radius))])
            }
            var fields = summary + [("second_axis", .string(spec.secondKind.rawValue)),
                                    ("eta_values", .array(computed.map.etaValues.map { .number($0) })),
                                    ("second_values", .array(computed.map.secondValues.map { .number($0) })),
                                    ("radii", .array(computed.map.radii.map { .number($0) })),
                                    ("boundary", .array(boundary))]
            if let curve = PaperCurves.easgdCondition(for: spec) {
                fields.append(("paper_condition", .object([("title", .string(curve.title)),
                                                           ("eta", .array(curve.points.map { .number($0.x) })),
                                                           ("alpha", .array(curve.points.map { .number($0.y) }))])))
            }
            return .object(fields)
        }
    }

    static func simulate(_ query: ExplorerAPI.Query) throws -> JSON {
        // simulate's options but --out; its rounds bounded for a request.
        let options = try parse(TrajectoryOptions.self, query)
        guard options.rounds <= Limits.explorerRounds else {
            throw ExplorerError(400, "--rounds \(options.rounds): the explorer simulates at most \(Limits.explorerRounds) rounds per request")
        }
        return try computing {
            let report = try options.point.schemePoint.trajectoryReport(from: options.start, rounds: options.rounds)
            guard case .object(let fields) = report.json else { return .null }
            let envelope = TrajectoryEnvelope(report.maxAbs, points: Limits.explorerSimulatePoints)
            return .object(fields + [("ln_max_abs_0", report.maxAbs.first.flatMap { $0 > 0 && $0.isFinite ? .number(log($0)) : nil } ?? .null),
                                     ("round", .array(envelope.rounds.map { .integer($0) })),
                                     ("log10_max_abs_low", .array(envelope.low.map { .number($0) })),
                                     ("log10_max_abs_high", .array(envelope.high.map { .number($0) }))])
        }
    }
}

/// log10 max|s| per round in at most `points` spans of consecutive rounds, each with its least and largest value
/// (a period-2 cycle shows as a band, not as one of its phases); rounds whose value is 0 or not finite are left out.
struct TrajectoryEnvelope {
    var rounds: [Int] = [], low: [Double] = [], high: [Double] = []

    init(_ maxAbs: [Double], points: Int) {
        let span = max(1, (maxAbs.count + points - 1) / points)
        var start = 0
        while start < maxAbs.count {
            let values = maxAbs[start..<min(start + span, maxAbs.count)].filter { $0 > 0 && $0.isFinite }.map(log10)
            if let lo = values.min(), let hi = values.max() {
                rounds.append(start)
                low.append(lo)
                high.append(hi)
            }
            start += span
        }
    }
}

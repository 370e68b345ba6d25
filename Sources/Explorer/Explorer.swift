// `easgd explore`: a local web server (Hummingbird) serving one page and a JSON API. The API's computations are
// the commands' own (`ExplorerAPI`, built by the command line from its option groups, so a query parameter means
// what the option of the same name means); this file holds what is the server's: routes, JSON errors, the
// supersession of stale map requests, the bound on work in flight, and the run catalogue it reads.
//
// Safe by default: it binds 127.0.0.1 unless told otherwise, never writes, moves or deletes, and serves run data
// only from the directories it was given (a run is named by an id of the server's own catalogue, never by a path).

import Foundation
import Hummingbird
import Logging
import NIOCore
import Records
import Synchronization

/// An error with its HTTP status: the response is `{"error": message}`.
public struct ExplorerError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var message: String
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { message }
}

/// The computations behind the API. Each takes the query's parameters (names as the commands' options, values as
/// given) and returns the JSON the corresponding command prints with --json, plus what a picture needs; an invalid
/// query throws an `ExplorerError` with status 400 (or 422 when the settings parse but cannot be computed).
public struct ExplorerAPI: Sendable {
    public typealias Query = [(name: String, value: String)]
    public var radius: @Sendable (Query) throws -> JSON
    public var map: @Sendable (Query, _ shouldStop: @escaping @Sendable () -> Bool) throws -> JSON
    public var simulate: @Sendable (Query) throws -> JSON
    public init(radius: @escaping @Sendable (Query) throws -> JSON,
                map: @escaping @Sendable (Query, @escaping @Sendable () -> Bool) throws -> JSON,
                simulate: @escaping @Sendable (Query) throws -> JSON) {
        self.radius = radius
        self.map = map
        self.simulate = simulate
    }
}

/// The newest request of each channel (a map panel of the page): a newer one makes the older ones stop at their
/// next row, so a slider drag never queues stale work. Newer is the client's sequence number when it sends one
/// (requests on several connections can arrive out of order: an older one arriving late must not stop the newer),
/// else the order of arrival.
final class Supersession: Sendable {
    private let newest = Mutex<[String: Int]>([:])
    private let counter = Atomic<Int>(0)

    /// Registers a request on `channel` with the client's `sequence` (nil: arrival order); the closure says
    /// whether a newer one has arrived since (at once, for one that arrives after a newer one).
    func begin(_ channel: String?, sequence: Int? = nil) -> @Sendable () -> Bool {
        guard let channel else { return { false } }
        let mine = sequence ?? (Int.max / 2 + counter.add(1, ordering: .relaxed).newValue)
        newest.withLock {
            if $0.count > 10_000 { $0.removeAll() }       // every page load names its own channels: forget old ones
            $0[channel] = max($0[channel] ?? .min, mine)
        }
        return { self.newest.withLock { $0[channel] != mine } }
    }
}

/// At most `limit` computations at once (queued or running); the next gets 503.
final class WorkLimit: Sendable {
    private let inFlight = Atomic<Int>(0)
    let limit: Int
    init(limit: Int) { self.limit = limit }

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard inFlight.add(1, ordering: .relaxed).newValue <= limit else {
            inFlight.subtract(1, ordering: .relaxed)
            throw ExplorerError(503, "busy: \(limit) computations in flight; try again")
        }
        defer { inFlight.subtract(1, ordering: .relaxed) }
        // Off Swift's cooperative threads: a map blocks its thread (and uses every core) until it is done.
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}

public struct Explorer: Sendable {
    public var host: String
    public var port: Int
    public var catalog: RunCatalog
    public var api: ExplorerAPI
    /// Requests computing at once (maps, radii, trajectories); more get 503.
    public var workLimit = 8

    public init(host: String, port: Int, catalog: RunCatalog, api: ExplorerAPI) {
        self.host = host
        self.port = port
        self.catalog = catalog
        self.api = api
    }

    /// The routes: the page, /api/radius, /api/map, /api/simulate, /api/runs, /api/runs/{id}/metrics.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let supersession = Supersession(), limit = WorkLimit(limit: workLimit)
        let api = self.api, catalog = self.catalog
        router.get("/") { _, _ in Explorer.response(200, ExplorerPage.html, contentType: "text/html; charset=utf-8") }
        router.get("/api/radius") { request, _ in
            await Explorer.answer { try await limit.run { try api.radius(Explorer.query(request)).render() } }
        }
        router.get("/api/map") { request, _ in
            await Explorer.answer {
                let query = try Explorer.query(request)
                let channel = query.last { $0.name == "channel" }?.value
                let sequence = try query.last { $0.name == "seq" }.map { item in
                    guard let n = Int(item.value), n >= 0, n < Int.max / 2 else { throw ExplorerError(400, "seq must be a whole number ≥ 0 (got '\(item.value.prefix(40))')") }
                    return n
                }
                let stop = supersession.begin(channel, sequence: sequence)
                return try await limit.run { try api.map(query.filter { $0.name != "channel" && $0.name != "seq" }, stop).render() }
            }
        }
        router.get("/api/simulate") { request, _ in
            await Explorer.answer { try await limit.run { try api.simulate(Explorer.query(request)).render() } }
        }
        router.get("/api/runs") { _, _ in
            await Explorer.answer { try await limit.run { try catalog.listing().render() } }
        }
        router.get("/api/runs/:id/metrics") { _, context in
            await Explorer.answer {
                let id = context.parameters.get("id") ?? ""
                return try await limit.run { try catalog.metrics(id: id) }
            }
        }
        router.get("/api/**") { _, _ in
            Explorer.error(ExplorerError(404, "no such endpoint (the API: /api/radius, /api/map, /api/simulate, /api/runs, /api/runs/{id}/metrics)"))
        }
        return router
    }

    /// The application, ready to run or to test; `onRunning` is told the port it listens on (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        var logger = Logger(label: "easgd-explore")
        logger.logLevel = .warning
        return Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "easgd-explore"),
                           onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// Serves until SIGINT or SIGTERM, then stops cleanly.
    public func run(onRunning: @escaping @Sendable (Int) -> Void) async throws {
        try await application(onRunning: onRunning).runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    // MARK: requests and responses

    /// The query's parameters in order. Names are the commands' options without the dashes, in their spelling
    /// (`outer-lr`) or with underscores (`outer_lr`); a name of anything but letters, digits, '-' and '_' is refused.
    static func query(_ request: Request) throws -> ExplorerAPI.Query {
        let items = request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) }
        for item in items where item.name.isEmpty || !item.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            throw ExplorerError(400, "bad query parameter name '\(item.name.prefix(40))'")
        }
        return items.map { (name: $0.name.replacingOccurrences(of: "_", with: "-"), value: $0.value) }
    }

    static func answer(_ work: () async throws -> String) async -> Response {
        do { return response(200, try await work()) } catch let error as ExplorerError {
            return self.error(error)
        } catch {
            return self.error(ExplorerError(500, "\(error)"))
        }
    }

    static func error(_ error: ExplorerError) -> Response {
        let line = error.message.split(whereSeparator: \.isNewline).first.map(String.init) ?? "error"
        return response(error.status, (try? JSON.object([("error", .string(line))]).render()) ?? "{\"error\": \"error\"}")
    }

    static func response(_ status: Int, _ text: String, contentType: String = "application/json") -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: text + (contentType == "application/json" ? "\n" : ""))))
    }
}

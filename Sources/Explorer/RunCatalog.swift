// The runs the explorer may show: the run directories at or below the directories it was given, nothing else.
// A run is named by an id the catalogue makes (a hash of where it was found), never by a path from the request, so
// a request cannot name a file: traversal, absolute paths and encoded slashes all meet "no such run". A directory
// whose real path (symlinks resolved) leaves its root is not listed.

import Analysis
import Foundation
import Records
import Training

public struct RunCatalog: Sendable {
    /// The directories given, as given.
    public var roots: [String]

    /// Refuses a root that does not exist or is not a directory (the command's one-line error).
    public init(roots: [String]) throws {
        for root in roots {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DataError("\(root) is not a directory")
            }
        }
        self.roots = roots
    }

    /// One run found: its id, its directory (the root as given and the path below it, as `easgd runs ROOT` names it).
    struct Entry {
        var id: String
        var dir: String
    }

    /// The runs now under the roots (rescanned on every request: runs appear while the explorer serves).
    func entries() -> [Entry] {
        var seen = Set<String>()
        return roots.enumerated().flatMap { index, root -> [Entry] in
            guard let base = Self.realPath(root) else { return [] }
            return RunFiles.runDirectories(root).compactMap { dir in
                // A symlink that leads out of the root is not followed.
                guard let real = Self.realPath(dir), real == base || real.hasPrefix(base.hasSuffix("/") ? base : base + "/") else { return nil }
                let id = Self.id("\(index)\u{0}\(dir)")
                guard seen.insert(id).inserted else { return nil }
                return Entry(id: id, dir: dir)
            }
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// 16 hex digits of FNV-1a (64 bit): stable across rescans and restarts, one URL path segment.
    static func id(_ key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16).leftPadded(to: 16)
    }

    /// GET /api/runs: `easgd runs --json`'s objects, each with the catalogue's id, the settings key its seed group
    /// shares, and critical_eta_h (the run's threshold h* = critical_eta_h / η, null where the map stays stable to
    /// ηh = 10⁴ or the method has none); a run that cannot be read is listed with its error.
    public func listing() throws -> JSON {
        .array(entries().map { entry in
            do {
                let run = try RunSummary.read(entry.dir)
                guard case .object(let fields) = run.json else { return .null }
                let critical: Double? = (try? RunPlot.criticalEtaH(run)) ?? nil
                var extra: [(String, JSON)] = [("method_text", .string(run.methodText)), ("settings_key", .string(run.settingsKey))]
                extra.append(("critical_eta_h", critical.map { JSON.number($0) } ?? .null))
                extra.append(("records", .integer(run.records.count)))
                extra.append(("sharpness_measured", .bool(run.records.contains { $0.sharpness != nil })))
                return .object([("id", .string(entry.id))] + fields + extra)
            } catch {
                return .object([("id", .string(entry.id)), ("dir", .string(entry.dir)), ("error", .string("\(error)"))])
            }
        })
    }

    /// GET /api/runs/{id}/metrics: the run's records, each the metrics.jsonl line as the run wrote it (checked by
    /// the reader `easgd runs` uses).
    public func metrics(id: String) throws -> String {
        guard let entry = entries().first(where: { $0.id == id }) else {
            throw ExplorerError(404, "no such run '\(id.prefix(40))' (GET /api/runs lists the ids)")
        }
        let path = RunFiles.metricsJSONL(entry.dir)
        let text: String
        if FileManager.default.fileExists(atPath: path) {
            guard let read = try? String(contentsOfFile: path, encoding: .utf8) else { throw ExplorerError(500, "cannot read the run's metrics.jsonl") }
            text = read
        } else {
            text = ""                       // a run that has not evaluated yet
        }
        let lines = text.split(separator: "\n").map(String.init)
        for line in lines {
            do { _ = try MetricRecord(jsonLine: line) } catch { throw ExplorerError(500, "the run's metrics.jsonl: \(error)") }
        }
        return "{\"id\": \(JSON.quote(entry.id)), \"dir\": \(JSON.quote(entry.dir)), \"records\": [" + lines.joined(separator: ",\n") + "]}"
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

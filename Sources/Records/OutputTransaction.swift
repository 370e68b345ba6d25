// The one writer of the toolkit's data files. Output is never half-written: every file is written (and
// fsynced) under a temporary name in its final directory and renamed into place only when the whole command
// has succeeded; on failure the temporaries are removed.
// Numbers are written with round-trip precision (Swift's shortest representation); non-finite numbers are
// refused, never written as data.

import Foundation

public struct OutputError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where output may go. Every command treats its output the same way: the directory that holds a PREFIX's
/// files, or a DIR's parent, must exist and be writable (a mistyped path is refused, never created); a DIR
/// itself is created.
public enum OutputPath {
    /// Checks that `path` (a PREFIX or a DIR) can be written: not empty, and its parent is a writable directory.
    public static func checkParent(of path: String, for what: String) throws {
        guard !path.isEmpty else { throw SettingsError("cannot write \(what): the path is empty") }
        try checkWritable(splitPath(path).directory, for: what)
    }

    /// Checks that a PREFIX names files: not empty and not ending in "/" (which would write hidden ".csv" files).
    public static func checkPrefix(_ prefix: String) throws {
        guard !prefix.isEmpty else { throw SettingsError("the output prefix is empty: give a name such as out/map") }
        guard !splitPath(prefix).name.isEmpty else {
            throw SettingsError("the output prefix \(prefix) names a directory: add a file name, e.g. \(prefix)map")
        }
        try checkParent(of: prefix, for: prefix)
    }

    /// Checks that DIR can be written into: an existing writable directory, or a new one in a writable parent.
    public static func checkDirectory(_ dir: String, for what: String) throws {
        guard !dir.isEmpty else { throw SettingsError("cannot write \(what): the directory name is empty") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
            return try checkParent(of: dir, for: what)
        }
        guard isDirectory.boolValue else { throw SettingsError("cannot write \(what): \(dir) exists and is not a directory") }
        try checkWritable(dir, for: what)
    }

    /// Creates DIR unless it exists (its parent was checked to exist).
    public static func createDirectory(_ dir: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue { return }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false) } catch {
            throw OutputError("cannot create directory \(dir): \(error.localizedDescription)")
        }
    }

    private static func checkWritable(_ dir: String, for what: String) throws {
        let dir = dir.isEmpty ? "." : dir
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
            throw SettingsError("cannot write \(what): directory \(dir) does not exist")
        }
        guard isDirectory.boolValue else { throw SettingsError("cannot write \(what): \(dir) is not a directory") }
        guard FileManager.default.isWritableFile(atPath: dir) else {
            throw SettingsError("cannot write \(what): directory \(dir) is not writable")
        }
    }
}

public final class OutputTransaction {
    private var staged: [(temporary: String, final: String)] = []
    private var scratchFiles: [String] = []
    private var done = false

    public init() {}

    /// A temporary path in the same directory as `final`, to be renamed onto it at commit.
    public func stage(_ final: String) -> String {
        let dir = splitPath(final).directory
        let name = splitPath(final).name
        let ext = (name as NSString).pathExtension
        let temporaryName = ".\(name).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(staged.count)" + (ext.isEmpty ? "" : ".\(ext)")
        let temporary = dir.isEmpty ? temporaryName : "\(dir)/\(temporaryName)"
        staged.append((temporary, final))
        Cleanup.shared.register(file: temporary)
        return temporary
    }

    /// Write text to a staged file; returns the temporary path (for a figure drawn from it before commit).
    @discardableResult
    public func write(_ text: String, to final: String) throws -> String {
        let temporary = stage(final)
        try AtomicFile.writeDurably(Data(text.utf8), to: temporary, naming: final)
        return temporary
    }

    /// Write bytes to a staged file; returns the temporary path.
    @discardableResult
    public func write(_ data: Data, to final: String) throws -> String {
        let temporary = stage(final)
        try AtomicFile.writeDurably(data, to: temporary, naming: final)
        return temporary
    }

    /// A temporary file beside PREFIX that a figure reads and nobody keeps: removed at commit or rollback.
    public func scratch(_ text: String, beside prefix: String) throws -> String {
        try scratch(Data(text.utf8), beside: prefix, extension: "csv")
    }

    /// Bytes in a temporary file beside PREFIX (binary data a figure reads), removed at commit or rollback.
    public func scratch(_ data: Data, beside prefix: String, extension ext: String) throws -> String {
        let (dir, name) = splitPath(prefix)
        let file = ".\(name).scratch-\(ProcessInfo.processInfo.processIdentifier)-\(scratchFiles.count).\(ext)"
        let path = dir.isEmpty ? file : "\(dir)/\(file)"
        Cleanup.shared.register(file: path)
        try AtomicFile.writeDurably(data, to: path)
        scratchFiles.append(path)
        return path
    }

    private func removeScratch() {
        for path in scratchFiles {
            try? FileManager.default.removeItem(atPath: path)
            Cleanup.shared.unregister(file: path)
        }
        scratchFiles.removeAll()
    }

    /// Drop a staged file that was not produced (e.g. a figure when gnuplot failed).
    public func discard(_ final: String) {
        staged.removeAll { entry in
            guard entry.final == final else { return false }
            try? FileManager.default.removeItem(atPath: entry.temporary)
            Cleanup.shared.unregister(file: entry.temporary)
            return true
        }
    }

    /// Rename every staged file into place. Every target is checked first, so that a target that cannot be
    /// replaced (a directory of that name) leaves all of them as they were.
    public func commit() throws {
        for (_, final) in staged {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: final, isDirectory: &isDirectory), isDirectory.boolValue {
                rollback()
                throw OutputError("\(final) is a directory: nothing was written")
            }
        }
        for (temporary, final) in staged {
            guard rename(temporary, final) == 0 else {
                let reason = String(cString: strerror(errno))
                rollback()
                throw OutputError("cannot move \(temporary) to \(final): \(reason)")
            }
        }
        for dir in Set(staged.map { splitPath($0.final).directory }) { AtomicFile.syncDirectory(dir) }
        for (temporary, _) in staged { Cleanup.shared.unregister(file: temporary) }
        removeScratch()
        staged.removeAll()
        done = true
    }

    /// Remove every staged temporary file.
    public func rollback() {
        for (temporary, _) in staged {
            try? FileManager.default.removeItem(atPath: temporary)
            Cleanup.shared.unregister(file: temporary)
        }
        removeScratch()
        staged.removeAll()
    }

    deinit { if !done { rollback() } }
}

/// A number as a user would type it: the shortest plain decimal that reads back exactly (0.00001, not 1e-05).
public func plain(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    for digits in 1...17 {
        let text = String(format: "%.\(digits)f", v)
        if Double(text) == v { return text }
    }
    return "\(v)"
}

/// A number as written to CSV and JSON: shortest round-trip form; non-finite numbers are an error.
public func number(_ v: Double) throws -> String {
    guard v.isFinite else { throw OutputError("refusing to write a non-finite number (\(v))") }
    return "\(v)"
}

/// CSV text built row by row.
public struct CSV {
    public private(set) var text: String
    public init(header: [String]) { text = header.joined(separator: ",") + "\n" }
    public mutating func row(_ values: [Double]) throws {
        text += try values.map(number).joined(separator: ",")
        text += "\n"
    }
    public mutating func row(_ fields: [String]) {
        text += fields.joined(separator: ",") + "\n"
    }
    /// A text field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    public static func quote(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A JSON value with ordered keys.
public indirect enum JSON: Sendable {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])
    case null

    public func render(indent: Int = 0) throws -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .number(let v): return try Records.number(v)
        case .integer(let i): return String(i)
        case .string(let s): return JSON.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            if items.allSatisfy({ if case .number = $0 { return true }; if case .integer = $0 { return true }; return false }) {
                return "[" + (try items.map { try $0.render() }.joined(separator: ", ")) + "]"
            }
            if items.isEmpty { return "[]" }
            return "[\n" + (try items.map { inner + (try $0.render(indent: indent + 1)) }.joined(separator: ",\n")) + "\n\(pad)]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + (try fields.map { "\(inner)\(JSON.quote($0.0)): \(try $0.1.render(indent: indent + 1))" }
                .joined(separator: ",\n")) + "\n\(pad)}"
        }
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}


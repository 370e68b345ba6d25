// What a reader of a file says when the file's JSON does not hold what it expected: the missing or mistyped field
// and where it is, in plain words, instead of Swift's DecodingError description (`DecodingError.keyNotFound: Key
// 'masterClock' not found in keyed decoding container. Debug description: …`).

import Foundation

public enum DecodingProblem {
    /// One phrase for `error`: "no field 'masterClock' in state", "field 'workers' in settings.engine is a string,
    /// not a number", "not valid JSON", … (any other error as it describes itself).
    public static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func place(_ path: [any CodingKey]) -> String {
            let names = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "at the top level" : "in " + names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch decoding {
        case .keyNotFound(let key, let context):
            return "no field '\(key.stringValue)' \(place(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "the field \(place(context.codingPath).dropFirst(3)) is not \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "the field \(place(context.codingPath).dropFirst(3)) is null, not \(typeName(type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "the field \(place(context.codingPath).dropFirst(3)) holds a value that is not allowed"
        @unknown default:
            return "\(decoding)"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type, is UInt32.Type: "a whole number"
        case is Double.Type, is Float.Type: "a number"
        default: String(describing: type).hasPrefix("Array") ? "a list" : "an object"
        }
    }
}

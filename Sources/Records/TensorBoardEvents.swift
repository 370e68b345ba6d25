// TensorBoard's event files, written by hand: TFRecord framing (length, masked CRC-32C, data, masked CRC-32C) of
// `Event` protocol buffers (tensorflow/core/util/event.proto, summary.proto), encoded field by field: wall_time = 1
// (double), step = 2 (int64), file_version = 3 (string), summary = 5; Summary.value = 1; Value.tag = 1,
// simple_value = 2 (float), tensor = 8, metadata = 9; SummaryMetadata.plugin_data = 1; PluginData.plugin_name = 1;
// TensorProto.dtype = 1 (DT_STRING = 7), tensor_shape = 2, string_val = 8. TensorBoard's own reader checks them
// (benchmarks/experiments/test_tensorboard.py).

import Foundation

public struct TensorBoardEvents {
    /// The file's bytes so far: a file_version event first, as TensorFlow writes.
    public private(set) var data = Data()

    public init(wallTime: Double) {
        var event = Protobuf()
        event.double(1, wallTime)
        event.bytes(3, Data("brain.Event:2".utf8))
        record(event.data)
    }

    /// One scalar (TensorBoard's Scalars tab); a value that is not finite is left out (nothing non-finite is written).
    public mutating func scalar(_ tag: String, _ value: Double, step: Int, wallTime: Double) {
        guard value.isFinite, abs(value) <= Double(Float.greatestFiniteMagnitude) else { return }
        var summaryValue = Protobuf()
        summaryValue.bytes(1, Data(tag.utf8))
        summaryValue.float(2, Float(value))
        summary(summaryValue, step: step, wallTime: wallTime)
    }

    /// A text (TensorBoard's Text tab, Markdown): a scalar string tensor tagged for the text plugin.
    public mutating func text(_ tag: String, _ markdown: String, step: Int, wallTime: Double) {
        var pluginData = Protobuf()
        pluginData.bytes(1, Data("text".utf8))
        var metadata = Protobuf()
        metadata.bytes(1, pluginData.data)
        var tensor = Protobuf()
        tensor.varint(1, 7)                            // DT_STRING
        tensor.bytes(2, Data())                        // a scalar: the empty shape
        tensor.bytes(8, Data(markdown.utf8))
        var summaryValue = Protobuf()
        summaryValue.bytes(1, Data(tag.utf8))
        summaryValue.bytes(8, tensor.data)
        summaryValue.bytes(9, metadata.data)
        summary(summaryValue, step: step, wallTime: wallTime)
    }

    private mutating func summary(_ value: Protobuf, step: Int, wallTime: Double) {
        var summary = Protobuf()
        summary.bytes(1, value.data)
        var event = Protobuf()
        event.double(1, wallTime)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.bytes(5, summary.data)
        record(event.data)
    }

    private mutating func record(_ payload: Data) {
        var length = Data()
        withUnsafeBytes(of: UInt64(payload.count).littleEndian) { length.append(contentsOf: $0) }
        data.append(length)
        Self.appendLittleEndian(&data, Self.maskedCRC(length))
        data.append(payload)
        Self.appendLittleEndian(&data, Self.maskedCRC(payload))
    }

    static func appendLittleEndian(_ data: inout Data, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }

    /// TFRecord's mask of a CRC-32C: rotate right by 15, add 0xa282ead8.
    static func maskedCRC(_ data: Data) -> UInt32 {
        let crc = crc32c(data)
        return ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit through a table.
    public static func crc32c(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }
}

/// A protocol-buffer message, field by field (wire types 0, 1, 2 and 5).
struct Protobuf {
    var data = Data()

    private mutating func raw(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            data.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        data.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { raw(UInt64(field) << 3 | wireType) }

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, 0)
        raw(value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }

    mutating func bytes(_ field: Int, _ value: Data) {
        key(field, 2)
        raw(UInt64(value.count))
        data.append(value)
    }
}

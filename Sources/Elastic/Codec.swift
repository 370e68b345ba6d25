// Compressed exchanges (issue 35, the codecs): what a worker sends as an update (DOWNPOUR's accumulated gradient,
// DiLoCo's pseudo-gradient; `Compression`, applied by the worker, so on every backend alike), in fewer bytes. What
// EASGD sends (its parameters) and what the center sends back are not compressed yet. The formats:
//
//   format  bytes for n values              rounding to nearest: error bound                       exact for
//   none    4n                              0                                                      every Float
//   fp16    2n                              |e| ≤ 2⁻¹¹|x| (normal halves), ≤ 2⁻²⁵ (subnormal)       halves
//   bf16    2n                              |e| ≤ 2⁻⁸|x|                                           bfloat16s
//   int8    n + 4⌈n/B⌉ (a Float32 scale     |e| ≤ s/2, s = max|x|/127 over the value's block        k·s, |k| ≤ 127
//           per block of B values)
//   int4    ⌈n/2⌉ + 4⌈n/B⌉ (two per byte)   |e| ≤ s/2, s = max|x|/7 over the value's block          k·s, |k| ≤ 7
//
// Stochastic rounding takes the upper neighbour with probability (x − lower)/(upper − lower), from the caller's
// SplitMix64: unbiased, with |e| below one quantum. A value beyond the format's range (fp16's 65504) becomes
// infinite and a non-finite value stays non-finite (an int block's scale with it), so a poisoned message is still
// poisoned when decoded and the master's check still rejects it. `ErrorFeedback` keeps what the codec lost and adds
// it to the next message (the sender's residual), so the errors do not accumulate.
//
// The copy, fp16 and int8 with nearest rounding run CCodec's C kernels (F16C, AVX2, portable C elsewhere); the
// Swift below is the reference they are tested against bit for bit (`reference: true`), and the path of the rest.

import CCodec

public enum CodecFormat: String, CaseIterable, Codable, Sendable {
    case none, fp16, bf16, int8, int4
}

public enum CodecRounding: String, CaseIterable, Codable, Sendable {
    case nearest, stochastic
}

public struct Codec: Equatable, Codable, Sendable {
    /// The values that share one scale in the integer formats.
    public static let defaultBlockSize = 256

    public var format: CodecFormat
    public var rounding: CodecRounding
    public var blockSize: Int

    public init(_ format: CodecFormat, rounding: CodecRounding = .nearest, blockSize: Int = Codec.defaultBlockSize) {
        precondition(blockSize >= 1, "a block holds at least one value")
        self.format = format
        self.rounding = rounding
        self.blockSize = blockSize
    }

    /// The bytes a message of `count` values takes.
    public func encodedBytes(count n: Int) -> Int {
        let scales = 4 * ((n + blockSize - 1) / blockSize)
        switch format {
        case .none: return 4 * n
        case .fp16, .bf16: return 2 * n
        case .int8: return n + scales
        case .int4: return (n + 1) / 2 + scales
        }
    }

    /// The formats are little-endian; on a little-endian machine the copy format is the bytes themselves.
    static let littleEndian = 1.littleEndian == 1

    /// The largest integer level of an integer format.
    var levels: Float { format == .int8 ? 127 : 7 }

    /// Writes `x` into `bytes` (exactly `encodedBytes(count: x.count)` of them). `random` draws the stochastic
    /// rounding's coins; nearest rounding never touches it. The copy, fp16 and int8 with nearest rounding run the C
    /// kernels of CCodec (SIMD where the CPU has it); `reference` runs the scalar Swift below instead, which states
    /// the formats and which the tests hold the kernels to, bit for bit.
    public func encode(_ x: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer, random: inout SplitMix64,
                       reference: Bool = false) {
        precondition(bytes.count == encodedBytes(count: x.count), "the message buffer has the wrong size")
        if !reference, let base = x.baseAddress, let out = bytes.baseAddress {
            switch (format, rounding) {
            case (.none, _) where Self.littleEndian:
                out.copyMemory(from: base, byteCount: 4 * x.count)
                return
            case (.fp16, .nearest):
                ccodec_fp16_encode(base, out, x.count)
                return
            case (.int8, .nearest):
                ccodec_int8_encode(base, out, x.count, blockSize)
                return
            default: break
            }
        }
        switch format {
        case .none:
            for (k, v) in x.enumerated() { bytes.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self) }
        case .fp16:
            for (k, v) in x.enumerated() {
                bytes.storeBytes(of: half(v, random: &random).bitPattern.littleEndian, toByteOffset: 2 * k, as: UInt16.self)
            }
        case .bf16:
            for (k, v) in x.enumerated() {
                bytes.storeBytes(of: bfloat(v, random: &random).littleEndian, toByteOffset: 2 * k, as: UInt16.self)
            }
        case .int8, .int4:
            encodeIntegers(x, into: bytes, random: &random)
        }
    }

    /// Reads a message of `x.count` values back (the copy, fp16 and int8 through CCodec unless `reference`).
    public func decode(_ bytes: UnsafeRawBufferPointer, into x: UnsafeMutableBufferPointer<Float>, reference: Bool = false) {
        precondition(bytes.count == encodedBytes(count: x.count), "the message has the wrong size")
        if !reference, let base = x.baseAddress, let message = bytes.baseAddress {
            switch format {
            case .none where Self.littleEndian:
                UnsafeMutableRawPointer(base).copyMemory(from: message, byteCount: 4 * x.count)
                return
            case .fp16:
                ccodec_fp16_decode(message, base, x.count)
                return
            case .int8:
                ccodec_int8_decode(message, base, x.count, blockSize)
                return
            default: break
            }
        }
        switch format {
        case .none:
            for k in x.indices { x[k] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))) }
        case .fp16:
            for k in x.indices {
                x[k] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))))
            }
        case .bf16:
            for k in x.indices {
                x[k] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))) << 16)
            }
        case .int8, .int4:
            decodeIntegers(bytes, into: x)
        }
    }

    // MARK: Floats

    /// The half nearest to v (ties to even), or one of its two neighbours at random.
    func half(_ v: Float, random: inout SplitMix64) -> Float16 {
        let nearest = Float16(v)
        guard rounding == .stochastic, v.isFinite, nearest.isFinite, Float(nearest) != v else { return nearest }
        let lower = Float(nearest) < v ? nearest : nearest.nextDown
        let upper = lower.nextUp
        guard upper.isFinite else { return lower }
        let p = Double(v - Float(lower)) / Double(Float(upper) - Float(lower))
        return random.nextUniform() < p ? upper : lower
    }

    /// The upper 16 bits of v rounded: to nearest (ties to even) or stochastically (uniform bits added below the
    /// kept ones, then cut: the upper neighbour with probability the cut part's fraction).
    func bfloat(_ v: Float, random: inout SplitMix64) -> UInt16 {
        let bits = v.bitPattern
        guard v.isFinite else { return UInt16(truncatingIfNeeded: bits >> 16) | (v.isNaN ? 0x40 : 0) }
        let rounded: UInt32
        switch rounding {
        case .nearest: rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        case .stochastic: rounded = bits &+ UInt32(truncatingIfNeeded: random.next() & 0xFFFF)
        }
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    // MARK: Integers

    /// Per block: the scale s = max|x|/L (Float32), then each value's level round(x/s) in [−L, L], as an int8 or as a
    /// nibble (level + 8; two per byte, the first value in the low nibble). A block of zeros has scale 0.
    func encodeIntegers(_ x: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer, random: inout SplitMix64) {
        let n = x.count, blocks = (n + blockSize - 1) / blockSize
        let scaleOffset = format == .int8 ? n : (n + 1) / 2
        if format == .int4 { for k in 0..<((n + 1) / 2) { bytes[k] = 0 } }
        for b in 0..<blocks {
            let range = (b * blockSize)..<min(n, (b + 1) * blockSize)
            var largest: Float = 0
            for k in range { largest = x[k].isFinite ? max(largest, abs(x[k])) : .nan }
            let scale = largest / levels
            bytes.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: scaleOffset + 4 * b, as: UInt32.self)
            for k in range {
                let level = scale > 0 && scale.isFinite ? self.level(x[k] / scale, random: &random) : 0
                if format == .int8 {
                    bytes[k] = UInt8(bitPattern: Int8(level))
                } else {
                    bytes[k / 2] |= UInt8(level + 8) << (k % 2 == 0 ? 0 : 4)
                }
            }
        }
    }

    /// A level in [−L, L]: nearest (ties away from zero) or floor(q + u) for a uniform u.
    func level(_ q: Float, random: inout SplitMix64) -> Int {
        let l = switch rounding {
        case .nearest: q.rounded()
        case .stochastic: (q + Float(random.nextUniform())).rounded(.down)
        }
        return Int(min(levels, max(-levels, l)))
    }

    func decodeIntegers(_ bytes: UnsafeRawBufferPointer, into x: UnsafeMutableBufferPointer<Float>) {
        let n = x.count, blocks = (n + blockSize - 1) / blockSize
        let scaleOffset = format == .int8 ? n : (n + 1) / 2
        for b in 0..<blocks {
            let scale = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: scaleOffset + 4 * b, as: UInt32.self)))
            for k in (b * blockSize)..<min(n, (b + 1) * blockSize) {
                let level = format == .int8 ? Int(Int8(bitPattern: bytes[k])) : Int((bytes[k / 2] >> (k % 2 == 0 ? 0 : 4)) & 0xF) - 8
                // A non-finite scale (a non-finite value in the block) decodes to non-finite values.
                x[k] = scale.isFinite ? Float(level) * scale : .nan
            }
        }
    }
}

/// A sender's error feedback: what the codec lost on the last message is added to the next one, so the receiver's
/// sum of decoded messages differs from the sum of the messages by the current residual only.
public struct ErrorFeedback: Sendable {
    public var codec: Codec
    public private(set) var residual: [Float]

    public init(codec: Codec, count: Int) {
        self.codec = codec
        residual = [Float](repeating: 0, count: count)
    }

    /// Encodes message + residual into `bytes`, and keeps as the residual what the decoded message misses of it.
    public mutating func encode(_ message: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer,
                                random: inout SplitMix64) {
        precondition(message.count == residual.count, "the message's size changed")
        var sent = Array(message)
        let compression = Compression(codec: codec, errorFeedback: true)
        sent.withUnsafeMutableBufferPointer { m in
            residual.withUnsafeMutableBufferPointer { compression.send(m, residual: $0, into: bytes, random: &random) }
        }
    }
}

/// What a worker's messages go through on their way to the master (`--compress`): a codec, and whether the worker
/// keeps what it lost for its next message (`--error-feedback`). The master sees the decoded values, on every
/// backend alike; on MPI the codec's bytes are what travels, each server's slice encoded on its own
/// (`EngineSettings.messageSlices`), and the records count them.
public struct Compression: Codable, Equatable, Sendable {
    public var codec: Codec
    public var errorFeedback: Bool

    public init(codec: Codec, errorFeedback: Bool) {
        self.codec = codec
        self.errorFeedback = errorFeedback
    }

    /// Replaces `message` with what the master decodes of it: decode(encode(message + residual)); with error
    /// feedback `residual` becomes what that missed (without, it is not touched and may be empty). `random` draws the
    /// stochastic rounding's coins.
    public func roundTrip<T: BinaryFloatingPoint>(_ message: UnsafeMutableBufferPointer<T>, residual: UnsafeMutableBufferPointer<T>,
                                                  random: inout SplitMix64) {
        var bytes = [UInt8](repeating: 0, count: codec.encodedBytes(count: message.count))
        bytes.withUnsafeMutableBytes { send(message, residual: residual, into: $0, random: &random) }
    }

    /// The codec a command line gives: nil for none (absent or `none`), nearest rounding and the default block
    /// where not given — the one place every command resolves them.
    public static func given(_ format: CodecFormat?, rounding: CodecRounding?, blockSize: Int?, errorFeedback: Bool) -> Compression? {
        guard let format, format != .none else { return nil }
        return Compression(codec: Codec(format, rounding: rounding ?? .nearest, blockSize: blockSize ?? Codec.defaultBlockSize),
                           errorFeedback: errorFeedback)
    }

    /// A message sent slice by slice (`slices` cover it in order; each encoded on its own into `wire`'s array of
    /// the same index, the coins drawn in one sequence): what a worker sends to a center held in slices.
    public func send<T: BinaryFloatingPoint>(_ message: UnsafeMutableBufferPointer<T>, residual: UnsafeMutableBufferPointer<T>,
                                             slices: [Range<Int>], into wire: inout [[UInt8]], random: inout SplitMix64) {
        precondition(wire.count == slices.count, "one encoded array per slice")
        for (k, range) in slices.enumerated() {
            let part = UnsafeMutableBufferPointer(rebasing: message[range])
            let own = errorFeedback ? UnsafeMutableBufferPointer(rebasing: residual[range]) : residual
            wire[k].withUnsafeMutableBytes { send(part, residual: own, into: $0, random: &random) }
        }
    }

    /// The one step of a compressed message, for `roundTrip` and `ErrorFeedback` alike: message + residual (with
    /// error feedback) encoded into `bytes`, `message` replaced with what decodes from them, and the residual with
    /// what that missed.
    public func send<T: BinaryFloatingPoint>(_ message: UnsafeMutableBufferPointer<T>, residual: UnsafeMutableBufferPointer<T>,
                                             into bytes: UnsafeMutableRawBufferPointer, random: inout SplitMix64) {
        let n = message.count
        precondition(!errorFeedback || residual.count == n, "the residual and the message differ in size")
        var corrected = [Float](repeating: 0, count: n), decoded = [Float](repeating: 0, count: n)
        for k in 0..<n { corrected[k] = Float(message[k] + (errorFeedback ? residual[k] : 0)) }
        corrected.withUnsafeBufferPointer { codec.encode($0, into: bytes, random: &random) }
        decoded.withUnsafeMutableBufferPointer { codec.decode(UnsafeRawBufferPointer(bytes), into: $0) }
        for k in 0..<n {
            if errorFeedback { residual[k] = T(corrected[k] - decoded[k]) }
            message[k] = T(decoded[k])
        }
    }
}

extension Compression {
    /// A delta-coded reply (`--compress-reply`), the one rule both ends apply: `message` holds the center x̃ and
    /// becomes r + decode(encode(x̃ − r)), which is also the new `reference` r (what the receiver last got), so what
    /// one reply misses goes with the next. Encoded slice by slice into `wire`, slice k with the coins `coins(k)`
    /// (a stream per slice, so that each server of a sharded center draws its own slice's alone).
    public static func deltaReply<T: BinaryFloatingPoint>(_ message: UnsafeMutableBufferPointer<T>, reference: UnsafeMutableBufferPointer<T>,
                                                          codec: Codec, slices: [Range<Int>], into wire: inout [[UInt8]],
                                                          coins: (Int) -> SplitMix64) {
        precondition(message.count == reference.count, "a reference of the message's size")
        precondition(wire.count == slices.count, "one encoded array per slice")
        for k in message.indices { message[k] -= reference[k] }
        let none = UnsafeMutableBufferPointer<T>(start: nil, count: 0), plain = Compression(codec: codec, errorFeedback: false)
        for (j, range) in slices.enumerated() {
            var random = coins(j)
            wire[j].withUnsafeMutableBytes { plain.send(UnsafeMutableBufferPointer(rebasing: message[range]), residual: none, into: $0, random: &random) }
        }
        for k in message.indices {
            reference[k] += message[k]
            message[k] = reference[k]
        }
    }

    /// The receiver's half of `deltaReply`: `bytes` (the codec's of x̃ − r) decoded into `message`, which becomes
    /// r + decoded, the new `reference` r too: the values the sender computed for it.
    public static func acceptDeltaReply(_ bytes: UnsafeRawBufferPointer, codec: Codec, reference: UnsafeMutableBufferPointer<Float>,
                                        into message: UnsafeMutableBufferPointer<Float>) {
        precondition(message.count == reference.count, "a reference of the message's size")
        codec.decode(bytes, into: message)
        for k in message.indices {
            reference[k] += message[k]
            message[k] = reference[k]
        }
    }
}

// The codecs of compressed exchanges (Elastic/Codec.swift) against the error bounds its header states, worked out
// from the formats: round trips within them, exact for representable values, stochastic rounding unbiased (Monte
// Carlo, 4 standard errors), error feedback's residual bounded by half a quantum over 10⁶ messages and the decoded
// sum equal to the sent sum less the residual, and a non-finite message non-finite when decoded.

import CCodec
import Elastic
import Foundation
import Testing

private func roundTrip(_ codec: Codec, _ x: [Float], seed: UInt64 = 1) -> [Float] { roundTrip(codec, x, coins: SplitMix64(seed: seed)) }

private func roundTrip(_ codec: Codec, _ x: [Float], coins: SplitMix64) -> [Float] {
    var random = coins
    var bytes = [UInt8](repeating: 0, count: codec.encodedBytes(count: x.count))
    var out = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { input in bytes.withUnsafeMutableBytes { codec.encode(input, into: $0, random: &random) } }
    bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { codec.decode(raw, into: $0) } }
    return out
}

/// Values spread over decades, both signs.
private func spread(_ n: Int, seed: UInt64, decades: ClosedRange<Double>) -> [Float] {
    var r = SplitMix64(seed: seed)
    return (0..<n).map { _ in
        let magnitude = pow(10, decades.lowerBound + (decades.upperBound - decades.lowerBound) * r.nextUniform())
        return Float(r.nextUniform() < 0.5 ? -magnitude : magnitude)
    }
}

@Test func everyFormatTakesTheBytesItsHeaderStates() {
    for n in [1, 2, 255, 256, 257, 1001] {
        let blocks = (n + 255) / 256
        #expect(Codec(.none).encodedBytes(count: n) == 4 * n)
        #expect(Codec(.fp16).encodedBytes(count: n) == 2 * n && Codec(.bf16).encodedBytes(count: n) == 2 * n)
        #expect(Codec(.int8).encodedBytes(count: n) == n + 4 * blocks)
        #expect(Codec(.int4).encodedBytes(count: n) == (n + 1) / 2 + 4 * blocks)
    }
    // Against Float32, for the CIFAR net's 2.5 M parameters at the default block: 2×, 2×, 3.94×, 7.76×.
    let n = 2_500_000
    #expect(abs(Double(4 * n) / Double(Codec(.int4).encodedBytes(count: n)) - 7.76) < 0.01)
}

@Test(arguments: [CodecRounding.nearest, .stochastic])
func roundTripsStayWithinTheStatedBounds(rounding: CodecRounding) {
    let stochastic = rounding == .stochastic
    // fp16 on normal halves: 2⁻¹¹ relative to nearest, one quantum (2⁻¹⁰ of the binade) stochastically.
    let normal = spread(4000, seed: 1, decades: -4...4.8)
    for (x, y) in zip(normal, roundTrip(Codec(.fp16, rounding: rounding), normal)) {
        #expect(abs(Double(y) - Double(x)) <= (stochastic ? 0x1p-10 : 0x1p-11) * abs(Double(x)) * 1.000001, "fp16 \(x) → \(y)")
    }
    let any = spread(4000, seed: 2, decades: -30...30)
    for (x, y) in zip(any, roundTrip(Codec(.bf16, rounding: rounding), any)) {
        #expect(abs(Double(y) - Double(x)) <= (stochastic ? 0x1p-7 : 0x1p-8) * abs(Double(x)) * 1.000001, "bf16 \(x) → \(y)")
    }
    // Integers: per block of 64, half a quantum s = max|x|/L to nearest, one quantum stochastically.
    for (format, levels) in [(CodecFormat.int8, 127.0), (.int4, 7.0)] {
        let codec = Codec(format, rounding: rounding, blockSize: 64)
        let x = spread(1000, seed: 3, decades: -3...2)
        let y = roundTrip(codec, x)
        for b in stride(from: 0, to: x.count, by: 64) {
            let block = b..<min(x.count, b + 64)
            let s = Double(block.map { abs(x[$0]) }.max()!) / levels
            for k in block { #expect(abs(Double(y[k]) - Double(x[k])) <= (stochastic ? 1 : 0.5) * s * 1.00001, "\(format) \(x[k]) → \(y[k])") }
        }
    }
}

@Test func representableValuesComeBackExactly() {
    var r = SplitMix64(seed: 4)
    let halves = (0..<1000).map { _ in Float(Float16(Float(r.nextGaussian() * 100))) }
    let bfloats = (0..<1000).map { _ in Float(bitPattern: Float(r.nextGaussian() * 1e5).bitPattern & 0xFFFF_0000) }
    for rounding in CodecRounding.allCases {
        #expect(roundTrip(Codec(.fp16, rounding: rounding), halves) == halves)
        #expect(roundTrip(Codec(.bf16, rounding: rounding), bfloats) == bfloats)
        #expect(roundTrip(Codec(.none, rounding: rounding), halves) == halves)
        // k·s with s a power of two and the largest |k| the format's: every level exact.
        let int8 = (-127...127).map { Float($0) * 0.25 }, int4 = (-7...7).map { Float($0) * 0.5 }
        #expect(roundTrip(Codec(.int8, rounding: rounding, blockSize: 255), int8) == int8)
        #expect(roundTrip(Codec(.int4, rounding: rounding, blockSize: 15), int4) == int4)
    }
    #expect(roundTrip(Codec(.int8), [0, 0, 0]) == [0, 0, 0])
}

@Test(arguments: [CodecFormat.fp16, .bf16, .int8, .int4])
func stochasticRoundingIsUnbiased(format: CodecFormat) {
    // A value between two levels, sent 20,000 times: the mean of what arrives is within 4 standard errors of it,
    // while rounding to nearest is off by more than 10 of them.
    let x: [Float] = [1.0 / 3.0, 0.9]            // the block's maximum 0.9 fixes the integer formats' scale
    let n = 20_000
    var sum = 0.0, squares = 0.0
    var random = SplitMix64(seed: 5)
    let codec = Codec(format, rounding: .stochastic)
    var bytes = [UInt8](repeating: 0, count: codec.encodedBytes(count: 2)), out: [Float] = [0, 0]
    for _ in 0..<n {
        x.withUnsafeBufferPointer { input in bytes.withUnsafeMutableBytes { codec.encode(input, into: $0, random: &random) } }
        bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { codec.decode(raw, into: $0) } }
        sum += Double(out[0])
        squares += Double(out[0]) * Double(out[0])
    }
    let mean = sum / Double(n), standardError = ((squares / Double(n) - mean * mean) / Double(n)).squareRoot()
    #expect(standardError > 0 && abs(mean - Double(x[0])) <= 4 * standardError, "\(format): mean \(mean), SE \(standardError)")
    let nearest = Double(roundTrip(Codec(format), x)[0])
    #expect(abs(nearest - Double(x[0])) > 10 * standardError, "\(format): nearest \(nearest)")
}

@Test func errorFeedbackKeepsTheResidualWithinHalfAQuantum() {
    // 10⁶ messages of 16 Gaussian values through int4 (one block): after each, every residual is at most half the
    // quantum of the message it corrected, and what the receiver summed differs from what was sent by the residual.
    let count = 16, messages = 1_000_000
    var feedback = ErrorFeedback(codec: Codec(.int4, blockSize: count), count: count)
    var random = SplitMix64(seed: 6), coins = SplitMix64(seed: 7)
    var sent = [Double](repeating: 0, count: count), received = [Double](repeating: 0, count: count)
    var bytes = [UInt8](repeating: 0, count: feedback.codec.encodedBytes(count: count))
    var message = [Float](repeating: 0, count: count), decoded = [Float](repeating: 0, count: count)
    var worst = 0.0
    for _ in 0..<messages {
        for k in 0..<count { message[k] = Float(random.nextGaussian()); sent[k] += Double(message[k]) }
        let corrected = zip(message, feedback.residual).map { Double($0) + Double($1) }
        let halfQuantum = corrected.map(abs).max()! / 7 / 2
        message.withUnsafeBufferPointer { input in bytes.withUnsafeMutableBytes { feedback.encode(input, into: $0, random: &coins) } }
        bytes.withUnsafeBytes { raw in decoded.withUnsafeMutableBufferPointer { feedback.codec.decode(raw, into: $0) } }
        for k in 0..<count { received[k] += Double(decoded[k]) }
        worst = max(worst, feedback.residual.map { Double(abs($0)) }.max()! / halfQuantum)
    }
    #expect(worst <= 1.0001, "a residual reached \(worst) half-quanta")
    for k in 0..<count {
        // The sums are of 10⁶ Float messages: agreement to the float rounding of the running residual.
        #expect(abs(sent[k] - received[k] - Double(feedback.residual[k])) < 1e-3, "coordinate \(k)")
    }
}

@Test func aNonFiniteMessageStaysNonFinite() {
    for format in CodecFormat.allCases {
        let y = roundTrip(Codec(format, blockSize: 4), [1, .nan, 2, 3, 4, 5])
        #expect(y[1].isNaN, "\(format)")
        if format == .int8 || format == .int4 { #expect(y[0...3].allSatisfy(\.isNaN) && y[4...5].allSatisfy(\.isFinite), "\(format): \(y)") }
    }
    #expect(roundTrip(Codec(.fp16), [70000, -70000]) == [.infinity, -.infinity])
    #expect(roundTrip(Codec(.bf16), [.infinity])[0] == .infinity)
}

// MARK: the C kernels against the Swift reference, bit for bit

/// Values that probe every path: decades from subnormal to beyond fp16's range, both signs, zeros, fp16's largest
/// value and the ties around it and around 1, fp16's subnormals and the midpoints between them, and (optionally)
/// infinities and NaN; lengths not a multiple of 8 or of the block.
private func awkward(_ n: Int, seed: UInt64, nonFinite: Bool) -> [Float] {
    var x = spread(n, seed: seed, decades: -9...6)
    let specials: [Float] = [0, -0.0, 65504, 65519.99, 65520, -65520, 1 + 1.0 / 2048, 1 + 3.0 / 2048, Float(Float16.leastNonzeroMagnitude),
                             Float(Float16.leastNonzeroMagnitude) / 2, Float(Float16.leastNonzeroMagnitude) * 1.5,
                             Float(Float16.leastNormalMagnitude) * 0.999, 2.5, -2.5, 0.5, 126.5, .leastNonzeroMagnitude]
    for (k, v) in specials.enumerated() { x[(k * 37) % n] = v }
    if nonFinite { x[n / 3] = .infinity; x[n / 2] = .nan; x[n - 2] = -.infinity }
    return x
}

private func bytes(_ codec: Codec, _ x: [Float], reference: Bool) -> [UInt8] {
    var random = SplitMix64(seed: 1)
    var out = [UInt8](repeating: 0xAA, count: codec.encodedBytes(count: x.count))
    x.withUnsafeBufferPointer { input in out.withUnsafeMutableBytes { codec.encode(input, into: $0, random: &random, reference: reference) } }
    return out
}

private func values(_ codec: Codec, _ message: [UInt8], count: Int, reference: Bool) -> [UInt32] {
    var out = [Float](repeating: 1, count: count)
    message.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { codec.decode(raw, into: $0, reference: reference) } }
    return out.map(\.bitPattern)
}

@Test(arguments: [CodecFormat.none, .fp16, .int8])
func theKernelsEncodeAndDecodeBitForBitAsTheReference(format: CodecFormat) {
    for (n, block, nonFinite) in [(1, 256, false), (7, 256, false), (1000, 256, false), (4099, 100, true), (300, 8, true), (65, 1, false)] {
        let codec = Codec(format, blockSize: block)
        let x = awkward(n, seed: UInt64(n), nonFinite: nonFinite)
        let fast = bytes(codec, x, reference: false), slow = bytes(codec, x, reference: true)
        #expect(fast == slow, "\(format) n = \(n), block \(block): the encoded bytes differ")
        #expect(values(codec, fast, count: n, reference: false) == values(codec, slow, count: n, reference: true),
                "\(format) n = \(n), block \(block): the decoded bits differ")
    }
    // Ties: blocks whose largest magnitude is 127 have scale 1, so x/s is x itself and the halves are exact ties
    // (away from zero, as Swift's rounded()); for fp16, the midpoints between neighbouring halves.
    let ties: [Float] = [127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5, 0.49999997, -0.49999997, 3.5, 64.5, -64.5, 100.5, 0]
    let halves: [Float] = [1 + 1.0 / 2048, 1 + 3.0 / 2048, 2048 + 1, 2048 + 3, -(1 + 1.0 / 2048), 65519.99, 65520, 0.1]
    let x = Array(repeating: format == .fp16 ? halves + halves : ties, count: 5).flatMap { $0 }
    let codec = Codec(format, blockSize: 16)
    #expect(bytes(codec, x, reference: false) == bytes(codec, x, reference: true), "\(format): ties")
}

@Test func thePortablePathsMatchTheReferenceToo() {
    for (n, block) in [(4099, 100), (33, 256)] {
        let x = awkward(n, seed: 7, nonFinite: true)
        let half = Codec(.fp16), int8 = Codec(.int8, blockSize: block)
        var portable = [UInt8](repeating: 0, count: half.encodedBytes(count: n))
        portable.withUnsafeMutableBytes { out in x.withUnsafeBufferPointer { ccodec_fp16_encode_portable($0.baseAddress!, out.baseAddress!, n) } }
        #expect(portable == bytes(half, x, reference: true))
        var decoded = [Float](repeating: 1, count: n)
        portable.withUnsafeBytes { raw in decoded.withUnsafeMutableBufferPointer { ccodec_fp16_decode_portable(raw.baseAddress!, $0.baseAddress!, n) } }
        #expect(decoded.map(\.bitPattern) == values(half, portable, count: n, reference: true))
        var levels = [UInt8](repeating: 0, count: int8.encodedBytes(count: n))
        levels.withUnsafeMutableBytes { out in x.withUnsafeBufferPointer { ccodec_int8_encode_portable($0.baseAddress!, out.baseAddress!, n, block) } }
        #expect(levels == bytes(int8, x, reference: true))
    }
    // Every half decodes to the value Swift's Float16 says, and every half's value encodes back to it.
    let all = (0...UInt16.max).map { $0 }
    var decoded = [Float](repeating: 0, count: all.count)
    all.withUnsafeBytes { raw in decoded.withUnsafeMutableBufferPointer { ccodec_fp16_decode_portable(raw.baseAddress!, $0.baseAddress!, all.count) } }
    var mismatches = 0
    for (h, v) in zip(all, decoded) {
        let expected = Float(Float16(bitPattern: h))
        if expected.isNaN ? !v.isNaN : expected.bitPattern != v.bitPattern { mismatches += 1 }
    }
    #expect(mismatches == 0)
}

@Test func theDeltaReplysReceiverComputesWhatItsSenderComputedForIt() {
    // The sender's deltaReply (which also sets the sender's copy of r to what the receiver will hold) against the
    // receiver's acceptDeltaReply on the wire's bytes, slice by slice (two slices, int4 with stochastic rounding), over
    // 50 replies of a center that moves: the same bits in the receiver's x and r as the sender's, every reply. And
    // against the format itself: the receiver's x is r_old + decode(encode(x̃ − r_old)) with the slice's coins.
    let n = 301, codec = Codec(.int4, rounding: .stochastic, blockSize: 64)
    let slices = [0..<150, 150..<301]
    var senderReference = [Float](repeating: 0, count: n), receiverReference = [Float](repeating: 0, count: n)
    var wire = slices.map { [UInt8](repeating: 0, count: codec.encodedBytes(count: $0.count)) }
    var center = spread(n, seed: 11, decades: -3...0)
    var drift = SplitMix64(seed: 12)
    for reply in 0..<50 {
        for k in 0..<n { center[k] += Float(0.01 * drift.nextGaussian()) }
        let before = receiverReference
        var sent = center
        sent.withUnsafeMutableBufferPointer { message in
            senderReference.withUnsafeMutableBufferPointer { reference in
                Compression.deltaReply(message, reference: reference, codec: codec, slices: slices, into: &wire) {
                    SplitMix64.derived(from: UInt64(reply), stream: UInt64($0))
                }
            }
        }
        var received = [Float](repeating: 0, count: n)
        for (j, range) in slices.enumerated() {
            wire[j].withUnsafeBytes { bytes in
                receiverReference.withUnsafeMutableBufferPointer { r in
                    received.withUnsafeMutableBufferPointer { x in
                        Compression.acceptDeltaReply(bytes, codec: codec, reference: UnsafeMutableBufferPointer(rebasing: r[range]),
                                                     into: UnsafeMutableBufferPointer(rebasing: x[range]))
                    }
                }
            }
            let difference = range.map { center[$0] - before[$0] }
            let decoded = roundTrip(codec, difference, coins: SplitMix64.derived(from: UInt64(reply), stream: UInt64(j)))
            #expect(zip(range, decoded).allSatisfy { received[$0].bitPattern == (before[$0] + $1).bitPattern }, "reply \(reply), slice \(j)")
        }
        #expect(received.map(\.bitPattern) == sent.map(\.bitPattern), "reply \(reply): x")
        #expect(receiverReference.map(\.bitPattern) == senderReference.map(\.bitPattern), "reply \(reply): r")
    }
}

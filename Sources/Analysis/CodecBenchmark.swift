// `easgd bench codec`: how fast the codecs of compressed exchanges encode and decode, in GB/s of Float32 input on
// one core, against a plain copy of the same bytes timed in the same run (the memory's limit for a pass that reads
// and writes them). Medians over repeats; a message large enough to leave the caches.

import Dispatch
import Elastic
import Foundation

public struct CodecBenchmark {
    public struct Row: Sendable {
        public var codec: Codec
        /// GB/s of Float32 input (4n bytes per pass).
        public var encode: Double
        public var decode: Double
        /// The encoded bytes against 4n.
        public var ratio: Double
    }

    public var count: Int
    public var repeats: Int

    public init(count: Int, repeats: Int) {
        self.count = count
        self.repeats = repeats
    }

    private func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// GB/s of a memcpy of 4n bytes (the copy bandwidth the codecs are held against).
    public func copyRate() -> Double {
        var source = [Float](repeating: 0, count: count), target = [Float](repeating: 0, count: count)
        var r = SplitMix64(seed: 1)
        for k in source.indices { source[k] = Float(r.nextGaussian()) }
        let times = (0..<repeats).map { _ in
            seconds { source.withUnsafeBytes { s in target.withUnsafeMutableBytes { t in t.copyMemory(from: s) } } }
        }
        return Double(4 * count) / median(times) / 1e9
    }

    public func measure(_ codec: Codec) -> Row {
        var input = [Float](repeating: 0, count: count), output = [Float](repeating: 0, count: count)
        var r = SplitMix64(seed: 2)
        for k in input.indices { input[k] = Float(r.nextGaussian()) }
        var bytes = [UInt8](repeating: 0, count: codec.encodedBytes(count: count))
        var random = SplitMix64(seed: 3)
        var encode: [Double] = [], decode: [Double] = []
        for _ in 0..<repeats {
            encode.append(seconds { input.withUnsafeBufferPointer { i in bytes.withUnsafeMutableBytes { codec.encode(i, into: $0, random: &random) } } })
            decode.append(seconds { bytes.withUnsafeBytes { b in output.withUnsafeMutableBufferPointer { codec.decode(b, into: $0) } } })
        }
        return Row(codec: codec, encode: Double(4 * count) / median(encode) / 1e9, decode: Double(4 * count) / median(decode) / 1e9,
                   ratio: Double(4 * count) / Double(bytes.count))
    }
}

// easgd bench codec: the codecs' encode and decode speed on one core against a copy of the same bytes.

import Analysis
import ArgumentParser
import Elastic
import Foundation
import Records

struct BenchCodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Time the codecs of compressed exchanges against a memory copy of the same bytes.",
        discussion: """
            Encodes and decodes --count Float32 values (default 32 M: 128 MB, beyond the caches) with each format and \
            rounding, one core, the median of --repeats; prints GB/s of Float32 input and the fraction of the copy \
            bandwidth (a memcpy of the same bytes timed in the same run), and the compression ratio.
              easgd bench codec --count 32000000 --repeats 7
            """
    )

    @Option(help: "Float32 values per message.") var count = 32_000_000
    @Option(help: "Repetitions; the median is reported.") var repeats = 7
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard (1024...(1 << 28)).contains(count) else { throw ValidationError("--count must be between 1024 and 268435456") }
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats must be between 1 and 1000") }
    }

    func run() throws {
        let bench = CodecBenchmark(count: count, repeats: repeats)
        let copy = bench.copyRate()
        let codecs = [Codec(.none)] + [CodecFormat.fp16, .bf16, .int8, .int4].flatMap { f in
            CodecRounding.allCases.map { Codec(f, rounding: $0) }
        }
        let rows = codecs.map { bench.measure($0) }
        if json {
            let items: [JSON] = rows.map { r in
                .object([("format", .string(r.codec.format.rawValue)), ("rounding", .string(r.codec.rounding.rawValue)),
                         ("encode_gb_per_second", .number(r.encode)), ("decode_gb_per_second", .number(r.decode)),
                         ("encode_of_copy", .number(r.encode / copy)), ("decode_of_copy", .number(r.decode / copy)),
                         ("compression_ratio", .number(r.ratio))])
            }
            print(try JSON.object([("count", .integer(count)), ("repeats", .integer(repeats)), ("copy_gb_per_second", .number(copy)),
                                   ("codecs", .array(items))]).render())
            return
        }
        print(String(format: "%d Float32 values (%.1f MB), median of %d, one core; memcpy %.2f GB/s", count, Double(4 * count) / 1e6, repeats, copy))
        print("format  rounding    encode GB/s  of copy  decode GB/s  of copy  ratio")
        for r in rows {
            let name = r.codec.format.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            let rounding = r.codec.rounding.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
            print(name + "  " + rounding + String(format: "  %11.2f  %6.1f%%  %11.2f  %6.1f%%  %5.2f", r.encode, 100 * r.encode / copy,
                                                  r.decode, 100 * r.decode / copy, r.ratio))
        }
    }
}

// EngineMPI's message formats, without MPI: what a worker's request carries after its vector (the trailer) and
// the state message sent either way. The MPI runs themselves (3 ranks, stop and resume, equality with the
// simulator) are end-to-end tests in EasgdCLITests, since they need mpirun to start the ranks.

@testable import EngineMPI
@testable import Engine
import Foundation
import Testing

/// Clocks across the range a run can reach: the trailer splits a clock into two Float32 halves of 16 bits below and
/// the rest above, so clocks far beyond Float32's 2^24 exact integers must come back exactly.
@Test(arguments: [0, 1, 65_535, 65_536, 65_537, 16_777_215, 16_777_216, 16_777_217, 1_000_000_007, (1 << 40) - 1])
func trailerCarriesTheClockExactly(clock: Int) {
    var buffer = [Float](repeating: .nan, count: Trailer.count + 2)
    let communication = 12_345.678_901_234_5 * Double(clock % 7 + 1) / 7
    buffer.withUnsafeMutableBufferPointer {
        Trailer(loss: 2.302585092994046, clock: clock, communication: communication).write(to: $0.baseAddress! + 1)
    }
    #expect(buffer[0].isNaN && buffer[Trailer.count + 1].isNaN)        // writes exactly Trailer.count values
    let read = buffer.withUnsafeBufferPointer { Trailer($0.baseAddress! + 1) }
    #expect(read.clock == clock)
    // Seconds of communication travel as a Float and the Float of the remainder: about 48 bits.
    #expect(abs(read.communication - communication) <= 1e-12 * communication, "\(read.communication) vs \(communication)")
    // The loss travels as Float32: ln 10 rounded to the nearest Float.
    #expect(read.loss == Double(Float(2.302585092994046)))
}

@Test func stateMessageSurvivesItsJSONEncoding() throws {
    let snapshot = WorkerSnapshot(clock: 123_456_789, exchanges: 4_321, alive: false, randomState: [0xDEAD_BEEF_0123_4567, 7],
                                  lastLoss: 0.6931471805599453)
    let message = StateMessage(kind: .done, worker: snapshot, stopReason: "non-finite loss or gradient", signal: 15)
    let decoded = try JSONDecoder().decode(StateMessage.self, from: JSONEncoder().encode(message))
    #expect(decoded.kind == .done && decoded.worker == snapshot)
    #expect(decoded.stopReason == message.stopReason && decoded.signal == 15)
}

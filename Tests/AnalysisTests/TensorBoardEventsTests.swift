// TensorBoard's framing against published values (TensorBoard's own reader checks whole files in
// Tests/python/test_tensorboard.py).

import Foundation
import Records
import Testing

@Test func crc32cMeetsItsPublishedCheckValue() {
    // The CRC-32C check value (RFC 3720, appendix B.4; the "123456789" catalogue entry): 0xE3069283.
    #expect(TensorBoardEvents.crc32c(Data("123456789".utf8)) == 0xE306_9283)
    // 32 bytes of zeros, RFC 3720 B.4: 0x8A9136AA.
    #expect(TensorBoardEvents.crc32c(Data(repeating: 0, count: 32)) == 0x8A91_36AA)
}

@Test func aNonFiniteScalarIsLeftOut() {
    var file = TensorBoardEvents(wallTime: 1)
    let header = file.data
    file.scalar("x", .nan, step: 1, wallTime: 2)
    file.scalar("x", .infinity, step: 1, wallTime: 2)
    file.scalar("x", 1e300, step: 1, wallTime: 2)          // not a Float
    #expect(file.data == header)
    file.scalar("x", 0.5, step: 1, wallTime: 2)
    #expect(file.data.count > header.count)
}

// One contiguous, 64-byte aligned, zero-initialised buffer: a model's parameters, its gradients, its
// velocities. Layers see views into it by offset, so the elastic exchange, checkpoints and messages
// always touch one vector.

public final class FlatBuffer<Scalar: BinaryFloatingPoint>: @unchecked Sendable {
    public let pointer: UnsafeMutableBufferPointer<Scalar>
    public var count: Int { pointer.count }

    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Scalar>.stride, alignment: 64)
        let typed = raw.bindMemory(to: Scalar.self, capacity: max(count, 1))
        typed.initialize(repeating: 0, count: max(count, 1))
        pointer = UnsafeMutableBufferPointer(start: typed, count: count)
    }

    public convenience init(copying other: FlatBuffer<Scalar>) {
        self.init(count: other.count)
        copy(from: other)
    }

    deinit { UnsafeMutableRawPointer(pointer.baseAddress!).deallocate() }

    public var readOnly: UnsafeBufferPointer<Scalar> { UnsafeBufferPointer(pointer) }
    public var base: UnsafeMutablePointer<Scalar> { pointer.baseAddress! }

    public subscript(i: Int) -> Scalar {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public func fill(_ value: Scalar) { pointer.update(repeating: value) }

    public func copy(from other: FlatBuffer<Scalar>) {
        precondition(other.count == count, "buffers differ in size")
        base.update(from: other.base, count: count)
    }

    /// The view [offset, offset + count) of this buffer.
    public func view(offset: Int, count n: Int) -> UnsafeMutableBufferPointer<Scalar> {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "view out of range")
        return UnsafeMutableBufferPointer(start: base + offset, count: n)
    }

    /// The entries `range` of this buffer, to write and to read.
    public func slice(_ range: Range<Int>) -> UnsafeMutableBufferPointer<Scalar> {
        view(offset: range.lowerBound, count: range.count)
    }
    public func readOnlySlice(_ range: Range<Int>) -> UnsafeBufferPointer<Scalar> { UnsafeBufferPointer(slice(range)) }

    /// True when every entry is finite.
    public var isFinite: Bool {
        for v in pointer where !v.isFinite { return false }
        return true
    }

    public var array: [Scalar] { Array(pointer) }
}

extension FlatBuffer where Scalar: NetworkScalar {
    /// True when every entry is finite (the concrete, vectorisable check of `NetworkScalar`).
    public var isFinite: Bool { Scalar.allFinite(readOnly) }
}

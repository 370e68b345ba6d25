// The number types a network can run in: Float for training, Double for the gradient checks.
// Each supplies its BLAS matrix product and the two transcendental functions the layers need.

import CDNNL
import CKernels
import COpenBLAS
import Dispatch
import Foundation

public protocol NetworkScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable where Self.RawSignificand: FixedWidthInteger {
    /// C ← α·op(A)·op(B) + β·C, row-major, on `ComputeThreads.current` threads (Float: oneDNN's sgemm, on the
    /// OpenMP pool the convolutions use; Double: OpenBLAS's dgemm).
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exponential(_ x: Self) -> Self
    /// out_k = g_k where y_k > 0, else 0 (the ReLU backward). A concrete, branch-free loop per type: written
    /// generically the select compiles to an unpredictable branch and costs ~20× more.
    static func maskByPositive(_ g: UnsafePointer<Self>, where y: UnsafePointer<Self>,
                               into out: UnsafeMutablePointer<Self>, count: Int)
    /// True when every entry is finite. Concrete per type for the same reason: the engine checks whole
    /// parameter vectors on every step and every exchange.
    static func allFinite(_ values: UnsafeBufferPointer<Self>) -> Bool
    static func logarithm(_ x: Self) -> Self
}

@inline(__always)
private func cblasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: NetworkScalar {
    @inlinable public static func exponential(_ x: Float) -> Float { Foundation.exp(x) }
    @inlinable public static func logarithm(_ x: Float) -> Float { Foundation.log(x) }
    public static func maskByPositive(_ g: UnsafePointer<Float>, where y: UnsafePointer<Float>,
                                      into out: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { out[k] = Float(bitPattern: g[k].bitPattern & (y[k] > 0 ? ~0 : 0)) }
    }
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        // x − x is 0 for finite x and NaN otherwise; the sum is NaN as soon as one entry is not finite.
        var sum: Float = 0
        for v in values { sum += v - v }
        return sum == 0
    }
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let status = easgd_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                                 Int32(ComputeThreads.current))
        precondition(status == 0, "oneDNN sgemm failed (status \(status))")
    }
}

extension Double: NetworkScalar {
    @inlinable public static func exponential(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func logarithm(_ x: Double) -> Double { Foundation.log(x) }
    public static func maskByPositive(_ g: UnsafePointer<Double>, where y: UnsafePointer<Double>,
                                      into out: UnsafeMutablePointer<Double>, count: Int) {
        for k in 0..<count { out[k] = Double(bitPattern: g[k].bitPattern & (y[k] > 0 ? ~0 : 0)) }
    }
    public static func allFinite(_ values: UnsafeBufferPointer<Double>) -> Bool {
        var sum: Double = 0
        for v in values { sum += v - v }
        return sum == 0
    }
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, cblasTranspose(transA), cblasTranspose(transB), Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// The threads a network uses inside a step: for oneDNN's convolutions and products and the element-wise loops
/// (all on OpenMP's pool). The setting belongs to the calling thread (1 until set), so the engine's workers and
/// concurrent tests each keep their own; it also sets OpenBLAS's (process-wide) for the Double products.
/// A oneDNN primitive's results depend on the thread count it runs on, so a run's bits do too: a resumed run
/// uses the thread count it was started with.
public enum ComputeThreads {
    public static func set(_ n: Int) {
        precondition(n >= 1, "thread count must be positive")
        openblas_set_num_threads(Int32(n))
        easgd_set_threads(Int32(n))
    }
    public static var current: Int { Int(easgd_threads()) }
    /// OpenBLAS's build description (version, core), for run records.
    public static var blasConfiguration: String { String(cString: openblas_get_config()) }
}

/// Splits 0..<count into `ComputeThreads.current` contiguous chunks run concurrently on the OpenMP pool (see
/// easgd_parallel.h). Each index is handled by exactly one chunk, in order, so results do not depend on the
/// thread count.
enum Parallel {
    static func forEach(_ count: Int, _ body: (Range<Int>) -> Void) {
        let threads = min(ComputeThreads.current, count)
        if threads <= 1 {
            body(0..<count)
            return
        }
        // The chunks touch disjoint memory (the callers' contract), so handing the closure to other threads is safe.
        withoutActuallyEscaping(body) { escapable in
            var job = Job(count: count, chunks: threads, body: escapable)
            withUnsafeMutablePointer(to: &job) { pointer in
                easgd_parallel(Int32(threads), pointer) { context, k in
                    let job = context!.assumingMemoryBound(to: Job.self).pointee
                    let k = Int(k)
                    job.body((job.count * k / job.chunks)..<(job.count * (k + 1) / job.chunks))
                }
            }
        }
    }

    /// An element-wise pass over 0..<count, split into blocks of 4,096 entries (16 KiB of Float), so that a chunk
    /// boundary never cuts a cache line and a small tensor stays on one thread. `body` gets a range of whole blocks.
    static func forEachBlock(_ count: Int, _ body: (Range<Int>) -> Void) {
        forEach((count + blockSize - 1) / blockSize) { blocks in
            body((blocks.lowerBound * blockSize)..<min(count, blocks.upperBound * blockSize))
        }
    }
    private static let blockSize = 4096

    private struct Job {
        let count: Int
        let chunks: Int
        let body: (Range<Int>) -> Void
    }
}

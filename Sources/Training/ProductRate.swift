// The machine's matrix-product rate, measured: a square Float product on one library and a given number of threads,
// the median of a few repetitions. `easgd bench train` prints it beside the step's achieved GFLOP/s, so the step is
// judged against what the products could do on this core in the same run.

import CDNNL
import COpenBLAS
import Foundation

public enum ProductLibrary: String, Sendable, CaseIterable {
    case openblas = "OpenBLAS", onednn = "oneDNN"
}

public enum ProductRate {
    /// GFLOP/s of C = A·B with A, B, C of size × size Floats (the median of `repeats` products after one warm-up).
    public static func sgemm(_ library: ProductLibrary, size: Int = 2048, threads: Int = 1, repeats: Int = 5) -> Double {
        let count = size * size
        let a = FlatBuffer<Float>(count: count), b = FlatBuffer<Float>(count: count), c = FlatBuffer<Float>(count: count)
        for k in 0..<count {
            a.base[k] = Float(k % 7) * 1e-3
            b.base[k] = Float(k % 5) * 1e-3
        }
        let saved = ComputeThreads.current
        ComputeThreads.set(threads)
        defer { ComputeThreads.set(saved) }
        func product() {
            switch library {
            case .openblas:
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(size), Int32(size), Int32(size), 1,
                            a.base, Int32(size), b.base, Int32(size), 0, c.base, Int32(size))
            case .onednn:
                let status = easgd_sgemm(0, 0, size, size, size, 1, a.base, size, b.base, size, 0, c.base, size,
                                         Int32(threads))
                precondition(status == 0, "oneDNN sgemm failed (status \(status))")
            }
        }
        product()
        var rates: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            product()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            rates.append(2 * Double(size) * Double(size) * Double(size) / seconds / 1e9)
        }
        return rates.sorted()[rates.count / 2]
    }
}

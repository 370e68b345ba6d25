// Eigenvalues through LAPACK, with workspaces queried once and reused: one solver per thread.
//   - `eigenvalues(of:)`: LAPACKE dgeev, no eigenvectors, for any square matrix (the reference path).
//   - `roots(ofMonic:)`: the polynomial's companion matrix is already upper Hessenberg, so it is only
//     scaled (dgebal 'S', a diagonal similarity that keeps the form) and handed to dhseqr: no reduction.
import COpenBLAS

public struct Eigenvalue: Sendable, Equatable {
    public var re: Double
    public var im: Double
    public init(re: Double, im: Double) { self.re = re; self.im = im }
    public var magnitude: Double { (re * re + im * im).squareRoot() }
}

public enum EigenSolverError: Error, CustomStringConvertible {
    case lapack(routine: String, info: Int)
    case nonFinite
    public var description: String {
        switch self {
        case .lapack(let routine, let info): return "LAPACK \(routine) failed (info = \(info))"
        case .nonFinite: return "the matrix holds a non-finite entry"
        }
    }
}

public final class EigenSolver {
    public let maxDimension: Int
    private var a: [Double]
    private var wr: [Double]
    private var wi: [Double]
    private var work: [Double]
    private var scale: [Double]

    public init(maxDimension: Int) {
        precondition(maxDimension >= 1, "dimension must be positive")
        self.maxDimension = maxDimension
        let n = maxDimension
        a = [Double](repeating: 0, count: n * n)
        wr = [Double](repeating: 0, count: n)
        wi = [Double](repeating: 0, count: n)
        scale = [Double](repeating: 0, count: n)
        // Workspace query, once: dgeev for the largest size; dhseqr needs at most n.
        var query = 0.0
        var dummyRe = 0.0, dummyIm = 0.0
        let ni = easgd_lapack_int(n)
        _ = a.withUnsafeMutableBufferPointer { ap in
            LAPACKE_dgeev_work(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "N")), Int8(UInt8(ascii: "N")), ni,
                               ap.baseAddress, ni, &dummyRe, &dummyIm, nil, 1, nil, 1, &query, -1)
        }
        work = [Double](repeating: 0, count: max(Int(query), 4 * n, 1))
    }

    /// All eigenvalues of a square matrix (dgeev, JOBVL = JOBVR = 'N').
    public func eigenvalues(of m: Matrix) throws -> [Eigenvalue] {
        precondition(m.rows == m.columns, "eigenvalues need a square matrix")
        let n = m.rows
        precondition(n <= maxDimension, "matrix larger than the solver's workspace")
        guard m.storage.allSatisfy({ $0.isFinite }) else { throw EigenSolverError.nonFinite }
        for k in 0..<(n * n) { a[k] = m.storage[k] }
        let ni = easgd_lapack_int(n), lwork = easgd_lapack_int(work.count)
        let info = a.withUnsafeMutableBufferPointer { ap in
            wr.withUnsafeMutableBufferPointer { wrp in
                wi.withUnsafeMutableBufferPointer { wip in
                    work.withUnsafeMutableBufferPointer { wp in
                        LAPACKE_dgeev_work(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "N")), Int8(UInt8(ascii: "N")), ni,
                                           ap.baseAddress, ni, wrp.baseAddress, wip.baseAddress,
                                           nil, 1, nil, 1, wp.baseAddress, lwork)
                    }
                }
            }
        }
        guard info == 0 else { throw EigenSolverError.lapack(routine: "dgeev", info: Int(info)) }
        return (0..<n).map { Eigenvalue(re: wr[$0], im: wi[$0]) }
    }

    /// Largest |eigenvalue| of a square matrix.
    public func spectralRadius(of m: Matrix) throws -> Double {
        try eigenvalues(of: m).reduce(0) { max($0, $1.magnitude) }
    }

    /// Roots of the monic polynomial c_0 + c_1 μ + … + c_d μ^d (c_d = 1), as eigenvalues of its
    /// upper-Hessenberg companion matrix (dgebal scaling, then dhseqr with JOB = 'E', COMPZ = 'N').
    public func roots(ofMonic c: [Double]) throws -> [Eigenvalue] {
        let n = c.count - 1
        precondition(n >= 1 && n <= maxDimension, "polynomial degree outside the solver's workspace")
        precondition(c[n] == 1, "the polynomial must be monic")
        guard c.allSatisfy({ $0.isFinite }) else { throw EigenSolverError.nonFinite }
        for k in 0..<(n * n) { a[k] = 0 }
        for j in 0..<n { a[0 + j * n] = -c[n - 1 - j] }      // first row: −c_{d−1}, …, −c_0
        for i in 1..<max(n, 1) { a[i + (i - 1) * n] = 1 }    // ones on the subdiagonal
        let ni = easgd_lapack_int(n)
        var ilo: easgd_lapack_int = 1, ihi: easgd_lapack_int = ni
        var z = 0.0
        let lwork = easgd_lapack_int(work.count)
        let info = a.withUnsafeMutableBufferPointer { ap in
            scale.withUnsafeMutableBufferPointer { sp in
                wr.withUnsafeMutableBufferPointer { wrp in
                    wi.withUnsafeMutableBufferPointer { wip in
                        work.withUnsafeMutableBufferPointer { wp -> easgd_lapack_int in
                            let balanced = LAPACKE_dgebal_work(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "S")), ni,
                                                               ap.baseAddress, ni, &ilo, &ihi, sp.baseAddress)
                            if balanced != 0 { return balanced }
                            return LAPACKE_dhseqr_work(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "E")), Int8(UInt8(ascii: "N")),
                                                       ni, ilo, ihi, ap.baseAddress, ni, wrp.baseAddress, wip.baseAddress,
                                                       &z, 1, wp.baseAddress, lwork)
                        }
                    }
                }
            }
        }
        guard info == 0 else { throw EigenSolverError.lapack(routine: "dgebal/dhseqr", info: Int(info)) }
        return (0..<n).map { Eigenvalue(re: wr[$0], im: wi[$0]) }
    }
}

/// Eigen-decomposition of a symmetric matrix (LAPACK dsyev): ascending eigenvalues and orthonormal eigenvectors
/// (column j of `vectors` belongs to `values[j]`).
public func symmetricEigen(_ m: Matrix) throws -> (values: [Double], vectors: Matrix) {
    precondition(m.rows == m.columns, "symmetric eigen-decomposition needs a square matrix")
    guard m.storage.allSatisfy({ $0.isFinite }) else { throw EigenSolverError.nonFinite }
    let n = m.rows
    var a = m.storage                       // column-major; dsyev reads the upper triangle
    var w = [Double](repeating: 0, count: n)
    let info = a.withUnsafeMutableBufferPointer { ap in
        w.withUnsafeMutableBufferPointer { wp in
            LAPACKE_dsyev(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), easgd_lapack_int(n),
                          ap.baseAddress, easgd_lapack_int(n), wp.baseAddress)
        }
    }
    guard info == 0 else { throw EigenSolverError.lapack(routine: "dsyev", info: Int(info)) }
    var vectors = Matrix(rows: n, columns: n)
    vectors.storage = a
    return (w, vectors)
}

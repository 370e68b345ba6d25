// A small dense real matrix, column-major (LAPACK's layout), for the linear maps of the dynamics.
import COpenBLAS

public struct Matrix: Equatable, Sendable {
    public let rows: Int
    public let columns: Int
    /// Column-major storage: element (i, j) is at `storage[i + j * rows]`.
    public var storage: [Double]

    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        precondition(rows > 0 && columns > 0, "a matrix needs at least one row and one column")
        self.rows = rows
        self.columns = columns
        self.storage = Array(repeating: value, count: rows * columns)
    }

    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m[i, i] = 1 }
        return m
    }

    public subscript(i: Int, j: Int) -> Double {
        get { storage[i + j * rows] }
        set { storage[i + j * rows] = newValue }
    }

    /// The product self · other through CBLAS dgemm.
    /// Every entry multiplied by s.
    public func scaled(by s: Double) -> Matrix {
        var m = self
        for k in 0..<m.storage.count { m.storage[k] *= s }
        return m
    }

    public static func * (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.columns == rhs.rows, "matrix sizes do not agree for a product")
        var result = Matrix(rows: lhs.rows, columns: rhs.columns)
        lhs.storage.withUnsafeBufferPointer { a in
            rhs.storage.withUnsafeBufferPointer { b in
                result.storage.withUnsafeMutableBufferPointer { c in
                    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans,
                                Int32(lhs.rows), Int32(rhs.columns), Int32(lhs.columns),
                                1.0, a.baseAddress, Int32(lhs.rows), b.baseAddress, Int32(rhs.rows),
                                0.0, c.baseAddress, Int32(result.rows))
                }
            }
        }
        return result
    }

    /// Largest |a_ij − b_ij|.
    public func maxAbsoluteDifference(_ other: Matrix) -> Double {
        precondition(rows == other.rows && columns == other.columns, "matrix sizes differ")
        return zip(storage, other.storage).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}

extension Matrix {
    /// Mᵀ.
    public func transposed() -> Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for i in 0..<rows { for j in 0..<columns { t[j, i] = self[i, j] } }
        return t
    }

    /// The matrix of a linear map on n coordinates, one column per basis vector: column k is `apply(e_k)`.
    public static func probing(_ n: Int, _ apply: ([Double]) -> [Double]) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for k in 0..<n {
            var e = [Double](repeating: 0, count: n)
            e[k] = 1
            let image = apply(e)
            for i in 0..<n { m[i, k] = image[i] }
        }
        return m
    }
}

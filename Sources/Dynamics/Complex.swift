// A small complex number for closed forms whose eigenvalues may be a conjugate pair.

import Foundation

public struct Complex: Sendable, Equatable, CustomStringConvertible {
    public var re: Double
    public var im: Double
    public init(_ re: Double, _ im: Double = 0) { self.re = re; self.im = im }

    public var magnitude: Double { hypot(re, im) }
    public var description: String { im == 0 ? "\(re)" : "\(re) \(im < 0 ? "-" : "+") \(abs(im))i" }

    public static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    public static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    public static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    public static func / (a: Complex, b: Complex) -> Complex {
        let d = b.re * b.re + b.im * b.im
        return Complex((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d)
    }
    public static prefix func - (a: Complex) -> Complex { Complex(-a.re, -a.im) }

    /// z^n for n ≥ 0, in polar form (exact for real z ≥ 0 and for n = 0).
    public func power(_ n: Int) -> Complex {
        if n == 0 { return Complex(1) }
        if im == 0 { return Complex(Foundation.pow(re, Double(n))) }
        let r = Foundation.pow(magnitude, Double(n)), theta = atan2(im, re) * Double(n)
        return Complex(r * cos(theta), r * sin(theta))
    }

    /// The principal square root.
    public static func sqrt(_ x: Double) -> Complex {
        x >= 0 ? Complex(x.squareRoot()) : Complex(0, (-x).squareRoot())
    }

    /// The two roots of λ² − Tλ + D = 0: the eigenvalues of a 2×2 matrix with trace T and determinant D.
    public static func quadraticRoots(trace t: Double, determinant d: Double) -> (Complex, Complex) {
        let root = Complex.sqrt(t * t - 4 * d)
        return (Complex(t / 2) + Complex(0.5) * root, Complex(t / 2) - Complex(0.5) * root)
    }
}

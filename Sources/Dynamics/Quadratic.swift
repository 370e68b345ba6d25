// The objective of the stability analysis: F(x) = h·x²/2 per coordinate (h = 1 in the paper).
// Its gradient is linear, so every update rule applied to it is a linear map of the state.

public struct Quadratic: Sendable, Equatable {
    /// The curvature h > 0 (the Hessian's eigenvalue).
    public var h: Double

    public init(h: Double = 1) { self.h = h }

    /// g = ∇F(x) = h·x.
    @inlinable
    public func gradient(at x: UnsafeBufferPointer<Double>, into g: UnsafeMutableBufferPointer<Double>) {
        for k in 0..<x.count { g[k] = h * x[k] }
    }
}

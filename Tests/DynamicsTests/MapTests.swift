@testable import Dynamics
import Elastic
import NumericTesting
import Testing

@Test func gridAxisEndpointsAndSpacing() {
    let linear = GridAxis(lower: 0, upper: 1, count: 5)
    #expect(linear.values == [0, 0.25, 0.5, 0.75, 1])
    let log = GridAxis(lower: 1e-4, upper: 1e-2, count: 3, logarithmic: true)
    #expect(log.values[0] == 1e-4 && log.values[2] == 1e-2 && isClose(log.values[1], 1e-3, relative: 1e-14))
}

@Test func mapRadiiEqualPointwiseDgeev() throws {
    let spec = StabilityMapSpec(method: .admm, workers: 4, eta: GridAxis(lower: 1e-4, upper: 0.01, count: 23),
                                second: GridAxis(lower: 0.1, upper: 10, count: 17), secondKind: .rho)
    let map = try StabilityMap.compute(spec, threads: 2)
    let solver = EigenSolver(maxDimension: 9)
    var referenceUnstable = 0
    for j in 0..<17 {
        for i in 0..<23 {
            let reference = try solver.spectralRadius(of: spec.scheme(eta: map.etaValues[i], second: map.secondValues[j]).probedRoundMap())
            #expect(isClose(map.radius(etaIndex: i, secondIndex: j), reference, relative: 1e-10))
            if reference > 1 { referenceUnstable += 1 }
        }
    }
    // The summary's unstable fraction, against the count from the dgeev reference radii.
    #expect(referenceUnstable > 0 && referenceUnstable < 17 * 23)
    #expect(map.unstableFraction == Double(referenceUnstable) / Double(17 * 23))
}

@Test func boundaryPointsSitOnRadiusOneAndBracketTheGrid() throws {
    let spec = StabilityMapSpec(method: .admm, workers: 3, eta: GridAxis(lower: 1e-5, upper: 0.01, count: 80),
                                second: GridAxis(lower: 0.2, upper: 10, count: 40), secondKind: .rho)
    let map = try StabilityMap.compute(spec)
    let boundary = try map.traceBoundary()
    #expect(boundary.count >= 40)
    let solver = EigenSolver(maxDimension: 7)
    for point in boundary {
        // ρ(F) changes sign across the point: just below and above it (1e-8 relative) lie on opposite sides.
        let below = try spec.scheme(eta: point.eta * (1 - 1e-8), second: point.second).spectralRadiusFromCyclicStructure(solver: solver)
        let above = try spec.scheme(eta: point.eta * (1 + 1e-8), second: point.second).spectralRadiusFromCyclicStructure(solver: solver)
        #expect((below - 1) * (above - 1) <= 0, "no sign change around η = \(point.eta), ρ = \(point.second)")
        #expect(abs(point.radius - 1) < 1e-9)
    }
}

@Test func brentFindsKnownRoots() {
    #expect(isClose(brentRoot(1, 2) { $0 * $0 - 2 }, 2.0.squareRoot(), relative: 1e-10))
    #expect(isClose(brentRoot(0.1, 3) { cos($0) - $0 }, 0.7390851332151607, relative: 1e-10))
}

import Foundation

// swift-tools-version: 6.1
// The reference toolkit for Elastic Averaging SGD (Zhang, Choromanska, LeCun, NeurIPS 2015).
//
//   COpenBLAS   C shim: OpenBLAS CBLAS + LAPACKE (system library, Debian libopenblas-dev + liblapacke-dev)
//   Elastic     the update rules over flat buffers, generic over Float/Double (the shared heart)
//   Dynamics    round-robin EASGD/ADMM on quadratics, linear maps, spectral radii, stability maps
//   Plotting    gnuplot figures, at the edge
//   EasgdCLI    the swift-argument-parser commands (thin: parse, validate, call, write)
//   easgd       the executable
import PackageDescription

let package = Package(
    name: "EASGD",
    products: [
        .executable(name: "easgd", targets: ["easgd"]),
        .library(name: "Elastic", targets: ["Elastic"]),
        .library(name: "Dynamics", targets: ["Dynamics"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .target(name: "Elastic"),
        .target(name: "Dynamics", dependencies: ["Elastic", "COpenBLAS"]),
        .target(name: "Plotting"),
        .target(
            name: "EasgdCLI",
            dependencies: [
                "Dynamics", "Plotting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "easgd", dependencies: ["EasgdCLI"]),
        // One approximate-equality helper shared by every numeric test target.
        .target(name: "NumericTesting"),
        .testTarget(name: "ElasticTests", dependencies: ["Elastic", "NumericTesting"]),
        .testTarget(name: "DynamicsTests", dependencies: ["Dynamics", "Elastic", "NumericTesting"]),
        .testTarget(name: "PlottingTests", dependencies: ["Plotting"]),
        .testTarget(name: "EasgdCLITests", dependencies: ["EasgdCLI", "easgd", "Dynamics", "NumericTesting"]),
    ]
)

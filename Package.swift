// swift-tools-version: 6.1
// The reference toolkit for Elastic Averaging SGD (Zhang, Choromanska, LeCun, NeurIPS 2015).
//
//   Records     the one writer of data files: atomic files, output transactions, CSV, JSON, output paths; the
//               settings error and exit statuses; the memory check before allocating
//   COpenBLAS   C shim: OpenBLAS CBLAS + LAPACKE (system library, Debian libopenblas-dev + liblapacke-dev)
//   Elastic     the algorithm vocabulary and the update rules over flat buffers, generic over Float/Double (the shared heart)
//   CKernels    C compute kernels of our own: Winograd F(4×4, 5×5) on oneDNN's sgemm, the OpenMP loops
//   CDNNL       C shim: oneDNN's convolutions (Debian libdnnl-dev), in the network's layouts
//   CZlib       C shim: zlib, for gzipped data sets (system library, Debian zlib1g-dev)
//   CImage      C: JPEG decoding by libjpeg-turbo (Debian libturbojpeg0-dev) and Pillow's bilinear resize, for
//               `easgd data import`
//   Dynamics    round-robin EASGD/ADMM on quadratics, linear maps, spectral radii, stability maps
//   Training    the CNN engine: flat parameter buffers, layers, networks from the paper's notation, data, training runs
//   CMPI        C shim: Open MPI (system library, Debian libopenmpi-dev); used by EngineMPI only
//   Engine      the parallel engine: master + p workers, every method of the paper, simulated and threaded backends
//   EngineMPI   the MPI backend: rank 0 the master and tester, ranks 1…p the workers
//   Plotting    gnuplot figures, at the edge
//   Analysis    what the commands compute and write: maps and their files, the engine on quadratics, advise's
//               verdict, the text-notebook runner
//   Explorer    `easgd explore`: the local web server (Hummingbird) of the stability explorer and the runs view,
//               its page, the run catalogue it serves read-only; the API's computations come from the commands
//   EasgdCLI    the swift-argument-parser commands (thin: argument types, help, calls)
//   easgd       the executable
import PackageDescription

// The numeric modules are optimised in debug builds too: `make test` runs the debug `easgd` hundreds of times, and
// unoptimised, unspecialised generic loops (pooling, the rectifier, the codecs, the round maps) made a test run's
// evaluations 3 to 4 times slower than those of the release build (the same bits either way: no module takes
// fast-math, and a debug run with them optimised recorded the same losses to the last digit as before).
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "EASGD",
    products: [
        .executable(name: "easgd", targets: ["easgd"]),
        .library(name: "Elastic", targets: ["Elastic"]),
        .library(name: "Dynamics", targets: ["Dynamics"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Analysis", targets: ["Analysis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // For the explorer's tests only: a channel to build a request's context on, and its logger (both already in
        // Hummingbird's graph; its own test library would add an HTTP client and TLS to every test build).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        // oneDNN's convolutions (Debian libdnnl-dev, OpenMP build): a small C shim that keeps the caller's layouts.
        // Compute kernels of our own (Winograd on oneDNN's sgemm, the OpenMP loops), apart from the library shims.
        .target(name: "CKernels", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        .target(name: "CDNNL", dependencies: ["CKernels"], linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // The codecs' hot loops (F16C, AVX2, with portable paths), bit for bit the Swift reference in Elastic.
        .target(name: "CCodec"),
        // JPEG decoding (libjpeg-turbo's TurboJPEG, Debian libturbojpeg0-dev), PNG decoding (zlib) and Pillow's
        // bilinear resize, for the ImageNet import.
        .target(name: "CImage", linkerSettings: [.linkedLibrary("turbojpeg"), .linkedLibrary("z")]),
        .target(name: "Elastic", dependencies: ["CCodec"], swiftSettings: optimisedInDebug),
        .target(name: "Records"),
        .target(name: "Dynamics", dependencies: ["Elastic", "COpenBLAS"], swiftSettings: optimisedInDebug),
        .target(name: "Training", dependencies: ["Elastic", "Records", "COpenBLAS", "CKernels", "CDNNL", "CZlib", "CImage"], swiftSettings: optimisedInDebug),
        .target(name: "Engine", dependencies: ["Elastic", "Records", "Training"], swiftSettings: optimisedInDebug),
        // The MPI backend in its own target: nothing else in the package depends on Open MPI.
        .target(name: "EngineMPI", dependencies: ["Engine", "Elastic", "Records", "Training", "CMPI"]),
        .target(name: "Plotting", dependencies: ["Records"]),
        .target(name: "Analysis", dependencies: ["Elastic", "Records", "Dynamics", "Training", "Engine", "Plotting"]),
        .target(name: "Explorer", dependencies: ["Analysis", "Training", "Records", .product(name: "Hummingbird", package: "hummingbird"),
                                                  .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "EasgdCLI",
            dependencies: [
                "Elastic", "Records", "Dynamics", "Training", "Engine", "EngineMPI", "Plotting", "Analysis", "Explorer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "easgd", dependencies: ["EasgdCLI"]),
        // A seeded mutation fuzzer for the readers of outside input (make fuzz).
        .executableTarget(name: "easgd-fuzz", dependencies: ["Elastic", "Records", "Training", "CImage"]),
        // One approximate-equality helper shared by every numeric test target.
        .target(name: "NumericTesting"),
        // The `easgd` executable as the tests run it (CLI and explorer tests).
        .target(name: "CommandTesting"),
        .testTarget(name: "ElasticTests", dependencies: ["Elastic", "CCodec", "NumericTesting"]),
        .testTarget(name: "DynamicsTests", dependencies: ["Dynamics", "Elastic", "NumericTesting"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Elastic", "CImage", "NumericTesting"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Training", "Dynamics", "Elastic", "Records", "NumericTesting"]),
        .testTarget(name: "EngineMPITests", dependencies: ["EngineMPI", "Engine", "Training", "Elastic", "NumericTesting"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Dynamics", "Elastic", "Records", "Training", "NumericTesting"]),
        .testTarget(name: "PlottingTests", dependencies: ["Plotting"]),
        .testTarget(name: "ExplorerTests", dependencies: ["Explorer", "EasgdCLI", "easgd", "CommandTesting", "Analysis", "Records", "Training",
                                                         .product(name: "Hummingbird", package: "hummingbird"),
                                                         .product(name: "NIOEmbedded", package: "swift-nio"),
                                                         .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EasgdCLITests", dependencies: ["EasgdCLI", "easgd", "CommandTesting", "Analysis", "Dynamics", "Training", "Records", "NumericTesting"]),
    ]
)

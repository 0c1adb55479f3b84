// swift-tools-version: 6.1
import PackageDescription

// Layers, dependencies pointing down only (see DESIGN.md):
//   vmsim, vmsim-bench (front ends)  →  VMSim  →  VMCore  →  VMPaging  →  VMPhys  →  VMTypes
//                                         VMSim  →  VMTrace (traces, policies, curves)  →  VMTypes
//   VMLibc (the C library's malloc over a MallocSystem the kernel implements)  →  VMTypes
//   VMSweep (sweep specs, runs, Slurm arrays, collection)  →  VMSim, VMTrace; Yams
//   VMTrace, VMLibc  →  TraceInput (files read plain, gzip or zstd)  →  zlib, libzstd (system)
//   VMExercise (OSTEP's homework scripts reproduced byte for byte; CPython's random; answer files)  →  nothing
//   VMExerciseKernel (exercises only a kernel model can pose)  →  VMSim, VMTrace, VMExercise
// Only the front ends, VMSweep and the tests import third-party packages, so the core builds fast.
// The simulated kernel's state lives in classes whose every stored `var` would otherwise be
// guarded by a dynamic exclusivity check on each access (swift_beginAccess: 40% of the
// instructions of kernel-mode replay). Release builds of the library modules leave the checks
// out; debug builds — the test suite — keep them, so an overlapping access still traps there.
let coreSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "vmsim",
    products: [
        .library(name: "VMSim", targets: ["VMSim"]),
        .library(name: "VMCore", targets: ["VMCore"]),
        .library(name: "VMPaging", targets: ["VMPaging"]),
        .library(name: "VMPhys", targets: ["VMPhys"]),
        .library(name: "VMTypes", targets: ["VMTypes"]),
        .library(name: "VMTrace", targets: ["VMTrace"]),
        .library(name: "VMLibc", targets: ["VMLibc"]),
        .library(name: "VMSweep", targets: ["VMSweep"]),
        .library(name: "VMExercise", targets: ["VMExercise"]),
        .library(name: "VMExerciseKernel", targets: ["VMExerciseKernel"]),
        .executable(name: "vmsim", targets: ["VMSimCLI"]),
        .executable(name: "vmsim-bench", targets: ["VMSimBench"]),
        .executable(name: "vmsim-host-helper", targets: ["vmsim-host-helper"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        // YAML for sweep specs, with the line and column of every node (VMSweep only).
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        // The web visualiser's HTTP server (VMServe only).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The browser test's WebDriver client (tests only).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .target(name: "VMTypes", swiftSettings: coreSettings),
        .target(name: "VMPhys", dependencies: ["VMTypes"], swiftSettings: coreSettings),
        .target(name: "VMPaging", dependencies: ["VMTypes", "VMPhys"], swiftSettings: coreSettings),
        .target(
            name: "VMCore", dependencies: ["VMTypes", "VMPhys", "VMPaging"], swiftSettings: coreSettings),
        // __builtin_prefetch for the trace replay loops (Swift has no prefetch intrinsic).
        .target(name: "CPrefetch"),
        // Line-buffered standard output for the command line (one C call Swift 6 cannot make).
        .target(name: "CStdio"),
        // zlib and libzstd from the system (Debian zlib1g-dev, libzstd-dev), for compressed traces.
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        // libedit from the system (Debian libedit-dev): line editing and history for `vmsim shell`.
        .systemLibrary(
            name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"]), .brew(["libedit"])]),
        .target(name: "TraceInput", dependencies: ["CZlib", "CZstd"], swiftSettings: coreSettings),
        .target(
            name: "VMTrace", dependencies: ["VMTypes", "CPrefetch", "TraceInput"], swiftSettings: coreSettings
        ),
        .target(name: "VMLibc", dependencies: ["VMTypes", "TraceInput"]),
        .target(name: "VMExercise"),
        // Generated exercises whose keys come from running the kernel model.
        .target(
            name: "VMExerciseKernel",
            dependencies: ["VMExercise", "VMSim", "VMCore", "VMPhys", "VMPaging", "VMTrace", "VMTypes"]),
        .target(
            name: "VMSim", dependencies: ["VMTypes", "VMPhys", "VMPaging", "VMCore", "VMTrace", "VMLibc"],
            swiftSettings: coreSettings),
        // The host executor's helper: one scenario process on the real kernel, in C. SwiftPM links
        // every executable through swiftc, which adds the Swift runtime, so -static cannot be used;
        // -z now binds every symbol at load time, so no lazy binding faults inside a measurement
        // (see helper.c; VMSIM_HOST_HELPER may name a `gcc -static` build of the same file).
        .executableTarget(
            name: "vmsim-host-helper", path: "Sources/vmsim-host-helper",
            cSettings: [.unsafeFlags(["-O1"])],
            linkerSettings: [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "now"])]),
        // Runs a scenario on the host kernel through the helper and diffs it against the simulation.
        .target(name: "VMHost", dependencies: ["VMSim", "VMCore", "VMPhys", "VMTypes"]),
        // Sweeps: a YAML spec crossed into cells, run on all cores or as a Slurm job array, and
        // collected. The one library module with a third-party dependency (Yams), kept out of the core.
        .target(name: "VMSweep", dependencies: ["VMSim", "VMCore", "VMPhys", "VMTrace", "VMTypes", "Yams"]),
        // The web visualiser (`vmsim serve`): a JSON API over a per-session ScenarioRunner and the
        // page's embedded assets. Hummingbird stays here, out of the core modules.
        .target(
            name: "VMServe",
            dependencies: [
                "VMSim", "VMCore", "VMPaging", "VMPhys", "VMTypes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The page's sources; scripts/embed-serve-assets.sh compiles them into Assets.swift.
            exclude: ["Assets"]
        ),
        // Executable modules get their own names so they never clash with the VMSim library on
        // case-insensitive file systems.
        .executableTarget(
            name: "VMSimCLI",
            dependencies: [
                "VMSim", "VMTrace", "VMLibc", "VMCore", "VMPaging", "VMPhys", "VMTypes", "VMSweep",
                "VMExercise", "VMExerciseKernel", "VMServe", "VMHost", "vmsim-host-helper",
                "CStdio", "CEdit", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/vmsim"
        ),
        .executableTarget(
            name: "VMSimBench",
            dependencies: [
                "VMSim", "VMTrace", "VMLibc", "VMCore", "VMPaging", "VMPhys", "VMTypes", "VMServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/vmsim-bench"
        ),
        // Counts heap allocations per thread (tests only): proves hot paths allocate nothing.
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(
            name: "VMTypesTests",
            dependencies: ["VMTypes", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "VMPhysTests",
            dependencies: ["VMPhys", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "VMPagingTests",
            dependencies: [
                "VMPaging", "AllocationCounter",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "VMCoreTests",
            dependencies: [
                "VMCore", "AllocationCounter",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "VMTraceTests",
            dependencies: [
                "VMTrace", "TraceInput", "AllocationCounter",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "TraceInputTests", dependencies: ["TraceInput"]),
        .testTarget(
            name: "VMLibcTests",
            dependencies: [
                "VMLibc", "TraceInput", .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "VMExerciseTests",
            dependencies: ["VMExercise"],
            exclude: ["OSTEPCorpus"]
        ),
        .testTarget(
            name: "VMExerciseKernelTests", dependencies: ["VMExerciseKernel", "VMExercise", "VMPhys"]),
        .testTarget(
            name: "VMSimTests",
            dependencies: [
                "VMSim", "AllocationCounter",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "VMSimCLITests",
            dependencies: [
                "VMSimCLI", "VMSim", "VMExerciseKernel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The settings reader on captured /proc and /sys files, and scenarios run on the real kernel.
        .testTarget(
            name: "VMHostTests", dependencies: ["VMHost", "VMSim", "vmsim-host-helper"],
            exclude: ["Fixtures"]),
        // The sweep tests; VMSimCLI so the vmsim binary is built for the Slurm and kill tests.
        .testTarget(name: "VMSweepTests", dependencies: ["VMSweep", "VMSimCLI"]),
        .testTarget(
            name: "VMServeTests",
            dependencies: [
                "VMServe", "VMSimCLI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

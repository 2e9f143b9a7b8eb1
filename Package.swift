// swift-tools-version: 6.2
// pcmd: a sound server for Linux. See README.md for the shape of the package.
import PackageDescription

/// Settings every Swift target shares: Swift 6 mode and the upcoming features that make
/// dependencies and existentials explicit.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// How the shipped programs' release builds link on Linux (README, "Memory"):
/// - the Swift runtime linked in (`-static-stdlib`), so an installed pcmd needs no Swift
///   toolchain or runtime package on the machine, and the dynamic loader has 12 fewer libraries
///   to map and relocate at every start;
/// - lld with packed relative relocations (DT_RELR, glibc 2.36): the 45,000 relative relocations
///   of a position-independent Swift binary take 9 KB instead of 1.1 MB, which the loader would
///   read page by page at start, and which would stay resident for the daemon's lifetime;
/// - no exported symbols (`--no-export-dynamic`; the static runtime's link arguments ask for them):
///   nothing loads code into these programs that would look them up, and 9,700 exported names
///   cost the loader a 0.9 MB symbol table to search at start.
/// The Foundation parts that swift-argument-parser uses were compiled against the dynamic
/// runtime's module, which does not name its two private libraries for the linker: they are
/// named here. Debug builds and test binaries link as usual.
let shippedProgramFlags = [
    "-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims", "-use-ld=lld",
    "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
]
let shippedProgramLinking: [LinkerSetting] = [
    .unsafeFlags(shippedProgramFlags, .when(platforms: [.linux], configuration: .release)),
]

/// The daemon also has its functions laid out in the order it runs them (packaging/pcmd.order,
/// written by scripts/symbol-order): the kernel maps program text 64 KiB around each page
/// touched, and the 1 MB of code a serving pcmd runs was scattered across 11 MB of text.
/// Functions the file names that no longer exist are skipped without a warning.
let daemonLinking: [LinkerSetting] = [
    .unsafeFlags(shippedProgramFlags + [
        "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/packaging/pcmd.order",
        "-Xlinker", "--no-warn-symbol-ordering",
    ], .when(platforms: [.linux], configuration: .release)),
]

let package = Package(
    name: "pcmd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pcmd", targets: ["pcmd"]),
        .executable(name: "pcmplay", targets: ["pcmplay"]),
        .executable(name: "pcmrec", targets: ["pcmrec"]),
        .executable(name: "pcmctl", targets: ["pcmctl"]),
        .executable(name: "pcmd-bench", targets: ["pcmd-bench"]),
        .library(name: "PCMBufferCore", targets: ["PCMBufferCore"]),
        .library(name: "PCMClient", targets: ["PCMClient"]),
        .library(name: "PCMClientCore", targets: ["PCMClientCore"]),
        // The ALSA plugin: `aplay -D pcmd` (docs/pcmd-alsa.7). alsa-lib loads
        // libasound_module_pcm_pcmd.so from its plugin directory.
        .library(name: "asound_module_pcm_pcmd", type: .dynamic, targets: ["PCMALSAPluginEntry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
    ],
    targets: [
        // C libraries from Debian, each behind a system-library target.
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        // Only sndfile.h (libsndfile1-dev): AudioFile loads the library when it opens the first file
        // (Sources/CSndfile/shim.h), so nothing links it, and pkg-config would add -lsndfile.
        .systemLibrary(name: "CSndfile"),

        // Linux interfaces Swift's Glibc module leaves out (eventfd, thread names, memfd seals,
        // SCM_RIGHTS).
        .target(name: "CLinux"),

        // The memory layout of a shared stream, as C so that both sides' atomics and offsets are
        // pinned by the C compiler (docs/protocol.md §7).
        .target(name: "CPCMShm"),

        // The substream buffer allocator, ring buffers and shared stream memory: no ALSA, no
        // socket I/O.
        .target(name: "PCMBufferCore", dependencies: ["CLinux", "CPCMShm"], swiftSettings: strictSettings),

        // The only module that imports CALSA: owned PCM handles, parameters, mmap, poll.
        .target(name: "ALSA", dependencies: ["CALSA", "PCMBufferCore"], swiftSettings: strictSettings),

        // Sample formats, conversion, mixing, volume and channel maps: pure Swift, what the daemon's
        // audio thread runs.
        .target(name: "PCMDSP", dependencies: ["PCMBufferCore"], swiftSettings: strictSettings),

        // Sample-rate conversion (the only module that imports CSoxr) and the whole client-side
        // conversion chain. Clients convert, the daemon never does (docs/protocol.md): kept apart so
        // that the daemon does not load libsoxr and, through it, OpenMP's runtime (0.4 MiB resident).
        .target(name: "PCMResample", dependencies: ["CSoxr", "PCMDSP", "PCMBufferCore"], swiftSettings: strictSettings),

        // The client/daemon wire protocol, shared by both sides, and the descriptor passing that
        // carries shared stream memory alongside its messages.
        .target(name: "PCMProtocol", dependencies: ["PCMBufferCore", "CLinux"], swiftSettings: strictSettings),

        // Audio files (WAV, FLAC, raw) for the tools and the daemon's diagnostics.
        .target(name: "AudioFile", dependencies: ["CSndfile", "PCMBufferCore", "PCMDSP"], swiftSettings: strictSettings),

        // Everything the daemon does except parsing its command line.
        .target(
            name: "PCMDaemon",
            dependencies: [
                "PCMBufferCore", "ALSA", "PCMDSP", "PCMProtocol", "AudioFile", "CLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "pcmd",
            dependencies: [
                "PCMDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings,
            linkerSettings: daemonLinking
        ),

        // The client side: a synchronous, allocation-free core (control socket with descriptor
        // passing, shared stream rings, client-side conversion; no Concurrency, no Foundation),
        // an async library built on it, and the command-line tools.
        .target(name: "PCMClientCore", dependencies: ["PCMProtocol", "PCMBufferCore", "PCMDSP", "PCMResample"],
                swiftSettings: strictSettings),
        .target(
            name: "PCMClient",
            dependencies: ["PCMClientCore", "PCMProtocol", "PCMBufferCore", "CLinux", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strictSettings
        ),
        // The ALSA plugin (an alsa-lib ioplug): applications' frames go straight into a shared
        // stream ring through PCMClientCore; ALSA's ExternalPCM bridges the C callbacks.
        .target(name: "PCMALSAPlugin", dependencies: ["ALSA", "PCMClientCore", "PCMProtocol", "PCMBufferCore", "CLinux"],
                swiftSettings: strictSettings),
        // Only the plugin's exported symbols, and the link settings a library loaded into any
        // process needs: the Swift runtime linked in statically (hosts have none, or another
        // version) and NODELETE (alsa-lib dlcloses plugins; Swift runtime state must not be
        // unmapped). Kept apart so that test binaries never link with them.
        .target(
            name: "PCMALSAPluginEntry",
            dependencies: ["ALSA", "PCMALSAPlugin"],
            swiftSettings: strictSettings,
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "-z", "-Xlinker", "nodelete"])]
        ),
        .executableTarget(
            name: "pcmplay",
            dependencies: ["PCMClientCore", "AudioFile", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings,
            linkerSettings: shippedProgramLinking
        ),
        .executableTarget(
            name: "pcmrec",
            dependencies: ["PCMClientCore", "AudioFile", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings,
            linkerSettings: shippedProgramLinking
        ),
        .executableTarget(
            name: "pcmctl",
            dependencies: ["PCMClient", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings,
            linkerSettings: shippedProgramLinking
        ),

        // Benchmarks, run in release mode: `swift run -c release pcmd-bench`.
        .executableTarget(
            name: "pcmd-bench",
            dependencies: [
                "PCMBufferCore", "PCMDSP", "PCMResample", "ALSA", "PCMDaemon",
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),

        // What PCMBufferCore predicts for a sequence of prealloc operations; the hardware tier
        // compares it with the real kernel (tests/hardware/test_prealloc.py).
        .executableTarget(name: "pcm-prealloc-model", dependencies: ["PCMBufferCore"], swiftSettings: strictSettings),

        // CLinux: the shared-memory tests play a hostile client with raw seal and memfd calls.
        .testTarget(name: "PCMBufferCoreTests", dependencies: ["PCMBufferCore", "CLinux"], swiftSettings: strictSettings),
        .testTarget(name: "ALSATests", dependencies: ["ALSA"], swiftSettings: strictSettings),
        // PCMResample's tests live here too: they share the signal analysis.
        .testTarget(name: "PCMDSPTests", dependencies: ["PCMDSP", "PCMResample"], swiftSettings: strictSettings),
        .testTarget(name: "AudioFileTests", dependencies: ["AudioFile"], swiftSettings: strictSettings),
        // PCMBufferCore: the descriptor-passing tests send shared stream memory.
        .testTarget(name: "PCMProtocolTests", dependencies: ["PCMProtocol", "PCMBufferCore"], swiftSettings: strictSettings),
        .testTarget(name: "PCMALSAPluginTests", dependencies: ["PCMALSAPlugin", "ALSA"], swiftSettings: strictSettings),
        .testTarget(name: "PCMClientTests", dependencies: ["PCMClient", "PCMClientCore", "PCMProtocol", "PCMBufferCore", "CLinux", .product(name: "SystemPackage", package: "swift-system")], swiftSettings: strictSettings),
        .testTarget(
            name: "PCMDaemonTests",
            dependencies: [
                "PCMDaemon", "PCMClient", "PCMClientCore", "AudioFile", "ALSA", "pcmd-systemd-probe",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        // Test fixture: drives PCMDaemon's systemd integration in a child process, where the
        // tests can give it an inherited socket and a NOTIFY_SOCKET without touching their own
        // process's environment.
        .executableTarget(
            name: "pcmd-systemd-probe",
            dependencies: [
                "PCMDaemon",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/SystemdProbe",
            swiftSettings: strictSettings
        ),
    ]
)

// The libFuzzer targets (docs/fuzzing.md): declared only when PCMD_FUZZ=1, as `scripts/fuzz`
// sets it. Their main hands over to libFuzzer's driver, so they link only with
// `-sanitize=fuzzer`, in their own build directory; ordinary builds and tests never see them.
// Each is built with testing enabled so that it can reach the daemon's internal seams.
if Context.environment["PCMD_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CLibFuzzer", path: "fuzz/Sources/CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "fuzz/Sources/FuzzSupport", swiftSettings: strictSettings),
        .executableTarget(name: "fuzz-protocol", dependencies: ["FuzzSupport", "PCMProtocol", "PCMBufferCore"],
                          path: "fuzz/Sources/fuzz-protocol", swiftSettings: strictSettings),
        .executableTarget(
            name: "fuzz-session",
            dependencies: ["FuzzSupport", "PCMDaemon", "PCMProtocol", "PCMBufferCore", "ALSA",
                           .product(name: "Logging", package: "swift-log")],
            path: "fuzz/Sources/fuzz-session", swiftSettings: strictSettings),
        .executableTarget(name: "fuzz-shm", dependencies: ["FuzzSupport", "PCMDaemon", "PCMBufferCore", "ALSA", "CLinux"],
                          path: "fuzz/Sources/fuzz-shm", swiftSettings: strictSettings),
        .executableTarget(name: "fuzz-config", dependencies: ["FuzzSupport", "PCMDaemon", "PCMBufferCore"],
                          path: "fuzz/Sources/fuzz-config", swiftSettings: strictSettings),
    ]
}

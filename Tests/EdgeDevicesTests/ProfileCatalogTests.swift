@testable import EdgeDevices
import EdgeIR
import EdgeTestSupport
import XCTest

/// User directories, family inheritance, deterministic rendering.
final class ProfileCatalogTests: XCTestCase {
    /// A complete standalone profile (no family) that every test mutates.
    static let minimal = """
        schema: edgeopt-device-profile/1
        name: test-npu
        display_name: Test NPU board
        vendor: Example
        form_factor: dev-board
        price: {amount: "$100", what: test board, date: "2024", source: [spec]}
        accelerator:
          name: Test NPU
          kind: npu
          compute:
            int8: {peak: 4 TOPS}
          source: [spec]
        host_cpu: {name: 4x Cortex-A53, cores: 4, clock: 1.5 GHz, compute: {fp32: 24 GFLOPS}, source: [spec]}
        memory: {capacity: 4 GB, bandwidth: 25.6 GB/s, type: LPDDR4, shared_with_cpu: true, source: [spec]}
        power:
          default_mode: max
          modes:
            - {name: max, watts: 10 W, throughput_scale: 1.0, source: [spec]}
          source: [spec]
        precisions:
          supported: [int8]
          preferred: int8
          quantization:
            int8: {weights: per-channel, activations: per-tensor, symmetric_weights: true, symmetric_activations: false, full_integer: false, calibration: true}
          source: [spec]
        operators: {mode: all-onnx, static_shapes: true, source: [spec]}
        partition: {rule: whole-graph, fallback: none, source: [spec]}
        toolchain: {name: testc, versions: "1.0", input: ONNX, artifact: blob, source: [spec]}
        efficiency:
          default: {compute: 0.3, memory: 0.6}
          per_layer_overhead: 10 us
          per_inference_overhead: 0.1 ms
          fitted: false
          method: test values
          source: [spec]
        sources:
          - {id: spec, kind: datasheet, url: https://example.com/spec, says: Test figures.}

        """

    func read(_ text: String) -> ProfileReader.Outcome<DeviceProfile> {
        ProfileReader.readProfile(text: text, file: "test.yaml") { _ in nil }
    }

    func testMinimalProfileReadsIntoBaseUnits() throws {
        let outcome = read(Self.minimal)
        XCTAssertEqual(outcome.problems, [])
        let profile = try XCTUnwrap(outcome.value)
        XCTAssertEqual(profile.memory?.capacity, 4e9)
        XCTAssertEqual(profile.memory?.bandwidth, 25.6e9)
        XCTAssertEqual(profile.memory?.reserved, 0)
        XCTAssertEqual(profile.peakCompute(.int8), 4e12)
        XCTAssertEqual(profile.hostCPU.clock, 1.5e9)
        XCTAssertEqual(profile.efficiency.perLayerOverhead, 10e-6, accuracy: 1e-15)
        XCTAssertEqual(profile.price.usd, 100)
        XCTAssertEqual(profile.operators.mode, .allOnnx)
        XCTAssertTrue(profile.operators.accepts(opType: "Conv"))
    }

    /// `validate` must list every problem, not stop at the first.
    func testCollectsEveryProblemInOnePass() {
        var text = Self.minimal.replacingOccurrences(of: "25.6 GB/s", with: "fast GB/s")
        text = text.replacingOccurrences(of: "cores: 4", with: "cores: -4")
        text = text.replacingOccurrences(of: "vendor: Example\n", with: "vendor: Example\nwarranty: 2 years\n")
        let paths = read(text).problems.map(\.path)
        XCTAssertEqual(Set(paths), ["memory.bandwidth", "host_cpu.cores", "warranty"])
    }

    func testUserDirectoryOverridesByNameAndAddsNewDevices() throws {
        let dir = try TemporaryDirectory(prefix: "user-profiles")
        // A user copy of coral-usb with a different price replaces the built-in one…
        let builtin = try ProfileCatalog.locateBuiltinDirectory(environment: [:])
        let coral = try String(contentsOfFile: "\(builtin)/coral-usb.yaml", encoding: .utf8)
            .replacingOccurrences(of: "amount: \"$59.99\"", with: "amount: \"$45\"")
        // …and its family is found among the built-in profiles although the user dir has none.
        try coral.write(toFile: dir.path("my-coral.yaml"), atomically: true, encoding: .utf8)
        // A new device is added.
        try Self.minimal.write(toFile: dir.path("test-npu.yaml"), atomically: true, encoding: .utf8)

        let catalog = try ProfileCatalog.load(userDirectories: [dir.url.path], environment: [:])
        XCTAssertEqual(catalog.profiles.count, BuiltinProfilesTests.expectedDevices.count + 1)
        let user = try catalog.profile(named: "coral-usb")
        XCTAssertEqual(user.price.usd, 45)
        XCTAssertEqual(user.file, dir.path("my-coral.yaml"))
        XCTAssertEqual(user.partition.rule, .firstContiguousSubgraph, "family sections still inherited")
        XCTAssertEqual(try catalog.profile(named: "test-npu").vendor, "Example")
    }

    func testEnvironmentVariableSelectsTheBuiltinDirectory() throws {
        let dir = try TemporaryDirectory(prefix: "builtin")
        try Self.minimal.write(toFile: dir.path("test-npu.yaml"), atomically: true, encoding: .utf8)
        let catalog = try ProfileCatalog.load(environment: [ProfileCatalog.environmentVariable: dir.url.path])
        XCTAssertEqual(catalog.profiles.map(\.name), ["test-npu"])
        XCTAssertEqual(catalog.profiles[0].file, "profiles/test-npu.yaml")
        XCTAssertThrowsError(try ProfileCatalog.load(environment: [ProfileCatalog.environmentVariable: dir.path("missing")])) {
            XCTAssertEqual(($0 as? EdgeError)?.exitStatus, .badInput)
        }
    }

    func testDuplicateNamesInOneDirectoryAreReported() throws {
        let dir = try TemporaryDirectory(prefix: "dupes")
        try Self.minimal.write(toFile: dir.path("a.yaml"), atomically: true, encoding: .utf8)
        try Self.minimal.write(toFile: dir.path("b.yaml"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ProfileCatalog.load(userDirectories: [dir.url.path], environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("\(dir.path("b.yaml")): name: \"test-npu\" is also the name in \(dir.path("a.yaml"))"), "\(error)")
        }
    }

    func testAliasMayNotShadowAnotherDevice() throws {
        let dir = try TemporaryDirectory(prefix: "alias")
        let text = Self.minimal.replacingOccurrences(of: "name: test-npu\n", with: "name: test-npu\naliases: [coral-usb]\n")
        try text.write(toFile: dir.path("test-npu.yaml"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ProfileCatalog.load(userDirectories: [dir.url.path], environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("aliases[0]: \"coral-usb\" is already the name or alias of coral-usb"), "\(error)")
        }
    }

    /// A broken family file is reported under its own name, once, however many profiles use it.
    func testBrokenFamilyIsReportedOnceUnderItsOwnFile() throws {
        let dir = try TemporaryDirectory(prefix: "family")
        try FileManager.default.createDirectory(atPath: dir.path("families"), withIntermediateDirectories: true)
        try "schema: edgeopt-device-family/1\nfamily: fam\ndescription: x\nsources: []\nbogus: 1\n"
            .write(toFile: dir.path("families/fam.yaml"), atomically: true, encoding: .utf8)
        for name in ["one", "two"] {
            let text = Self.minimal.replacingOccurrences(of: "name: test-npu\n", with: "name: test-\(name)\nfamily: fam\n")
            try text.write(toFile: dir.path("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        XCTAssertThrowsError(try ProfileCatalog.load(userDirectories: [dir.url.path], environment: [:])) { error in
            let lines = "\(error)".split(separator: "\n")
            XCTAssertEqual(lines.filter { $0.contains("families/fam.yaml: bogus: unknown key") }.count, 1, "\(error)")
        }
    }

    /// Files that are not profiles at all get one clear problem each, without reading huge files.
    func testUnreadableFilesAreReportedNotCrashedOn() throws {
        let dir = try TemporaryDirectory(prefix: "unreadable")
        try Data([0xFF, 0xFE, 0x00, 0xC3, 0x28]).write(to: dir.url.appendingPathComponent("binary.yaml"))
        try Data(count: ProfileCatalog.maximumProfileBytes + 1).write(to: dir.url.appendingPathComponent("huge.yaml"))
        try String(repeating: "[", count: 100_000).write(toFile: dir.path("deep.yaml"), atomically: true, encoding: .utf8)
        let files = ["binary.yaml", "huge.yaml", "deep.yaml", "missing.yaml"].map(dir.path) + [dir.url.path]
        let messages = ProfileCatalog.validate(files: files, builtinDirectory: nil).map { $0.problems.map(\.message) }
        XCTAssertEqual(messages[0], ["cannot read the file as UTF-8 text"])
        XCTAssertEqual(messages[1], ["is \(ProfileCatalog.maximumProfileBytes + 1) bytes; a profile is at most \(ProfileCatalog.maximumProfileBytes) bytes"])
        XCTAssertEqual(messages[2].count, 1)
        XCTAssertTrue(messages[2][0].hasPrefix("invalid YAML: "), messages[2][0])
        XCTAssertEqual(messages[3], ["no such file"])
        XCTAssertEqual(messages[4], ["is a directory, not a profile file"])
    }

    func testRenderingIsDeterministicAndJSONUsesBaseUnits() throws {
        let profiles = try ProfileCatalog.load(environment: [:]).profiles
        let first = try ProfileRendering.json(profiles.map(ProfileSummary.init))
        let second = try ProfileRendering.json(try ProfileCatalog.load(environment: [:]).profiles.map(ProfileSummary.init))
        XCTAssertEqual(first, second)
        XCTAssertEqual(ProfileRendering.table(profiles), ProfileRendering.table(profiles))

        let decoded = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [[String: Any]]
        let nano = try XCTUnwrap(decoded?.first { $0["name"] as? String == "jetson-nano" })
        XCTAssertEqual(nano["memory_bandwidth"] as? Double, 25.6e9)
        XCTAssertEqual((nano["peak"] as? [String: Double])?["fp16"], 472e9)

        let show = try ProfileRendering.json(try ProfileCatalog.load(environment: [:]).profile(named: "coral-usb"))
        XCTAssertTrue(show.contains("\"partition\""))
        XCTAssertTrue(show.contains("\"first-contiguous-subgraph\""))
        let text = ProfileRendering.details(try ProfileCatalog.load(environment: [:]).profile(named: "coral-usb"))
        XCTAssertTrue(text.contains("On-chip: 8 MiB parameter-cache, overflow stream-from-host"))
        XCTAssertTrue(text.contains("[coral-benchmarks] benchmark https://coral.ai/docs/edgetpu/benchmarks/"))
    }

    func testListTableShowsDensePeaksMemoryPowerAndPrice() throws {
        let table = ProfileRendering.table(try ProfileCatalog.load(environment: [:]).profiles)
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("NAME"))
        let orin = try XCTUnwrap(lines.first { $0.hasPrefix("jetson-agx-orin-64gb ") })
        for cell in ["NVIDIA", "fp32,fp16,int8", "85.2 TOPS", "42.6 TFLOPS", "64 GB", "15-60 W", "$1,599"] {
            XCTAssertTrue(orin.contains(cell), "\(cell) in \(orin)")
        }
        let usb = try XCTUnwrap(lines.first { $0.hasPrefix("coral-usb ") })
        XCTAssertTrue(usb.contains("8 MiB on-chip"), usb)
    }

    func testOpClassesOfCommonONNXOperators() {
        XCTAssertEqual(OpClass.of(opType: "Conv"), .conv)
        XCTAssertEqual(OpClass.of(opType: "Conv", group: 32, channels: 32), .depthwiseConv)
        XCTAssertEqual(OpClass.of(opType: "Conv", group: 2, channels: 32), .conv)
        XCTAssertEqual(OpClass.of(opType: "Gemm"), .matmul)
        XCTAssertEqual(OpClass.of(opType: "Relu"), .activation)
        XCTAssertEqual(OpClass.of(opType: "Add"), .elementwise)
        XCTAssertEqual(OpClass.of(opType: "GlobalAveragePool"), .pooling)
        XCTAssertEqual(OpClass.of(opType: "LayerNormalization"), .normalization)
        XCTAssertEqual(OpClass.of(opType: "Softmax"), .softmax)
        XCTAssertEqual(OpClass.of(opType: "Transpose"), .dataMovement)
    }
}

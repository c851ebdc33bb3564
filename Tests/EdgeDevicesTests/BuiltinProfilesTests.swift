@testable import EdgeDevices
import EdgeIR
import XCTest

/// The shipped `profiles/` directory: every device the issue names is there, loads without a
/// problem, and carries the figures the cost model will need.
final class BuiltinProfilesTests: XCTestCase {
    static let expectedDevices = [
        "jetson-nano", "jetson-tx2", "jetson-xavier-nx", "jetson-agx-xavier", "jetson-orin-nano-4gb",
        "jetson-orin-nano-8gb", "jetson-orin-nano-8gb-super", "jetson-orin-nx-8gb", "jetson-orin-nx-16gb",
        "jetson-agx-orin-32gb", "jetson-agx-orin-64gb", "coral-usb", "coral-dev-board", "coral-pcie",
        "intel-ncs2", "intel-ncs1", "atlas-200-dk", "atlas-200i-dk-a2",
    ]

    func loadCatalog() throws -> ProfileCatalog {
        do {
            return try ProfileCatalog.load(environment: [:])
        } catch let error as EdgeError {
            XCTFail("built-in profiles do not load:\n\(error)")
            throw error
        }
    }

    func testEveryBuiltinProfileLoadsAndValidates() throws {
        let catalog = try loadCatalog()
        XCTAssertEqual(Set(catalog.profiles.map(\.name)), Set(Self.expectedDevices))
        XCTAssertEqual(catalog.profiles.map(\.name), catalog.profiles.map(\.name).sorted(), "catalog order is by name")
    }

    func testEachFileValidatesOnItsOwnIncludingFamilies() throws {
        let builtin = try ProfileCatalog.locateBuiltinDirectory(environment: [:])
        let fm = FileManager.default
        let files = try fm.contentsOfDirectory(atPath: builtin).filter { $0.hasSuffix(".yaml") }.map { "\(builtin)/\($0)" }
            + fm.contentsOfDirectory(atPath: "\(builtin)/families").map { "\(builtin)/families/\($0)" }
        XCTAssertEqual(files.count, 18 + 6)
        for result in ProfileCatalog.validate(files: files, builtinDirectory: builtin) {
            XCTAssertEqual(result.problems, [], "\(result.file)")
        }
    }

    /// Every cited source exists (the loader enforces it) and every estimate says why; every
    /// non-estimate source has a URL.
    func testEverySourceIsDescribed() throws {
        for profile in try loadCatalog().profiles {
            for source in profile.sources {
                XCTAssertFalse(source.says.isEmpty, "\(profile.name): \(source.id)")
                if source.kind != .estimate { XCTAssertNotNil(source.url, "\(profile.name): \(source.id)") }
            }
        }
    }

    /// What later fit/latency/selection code relies on: a dense peak for every supported precision,
    /// somewhere for the weights to live, a power mode at full throughput, and a quantization
    /// scheme for every integer precision.
    func testProfilesHoldWhatTheCostModelNeeds() throws {
        for profile in try loadCatalog().profiles {
            for precision in profile.precisions.supported {
                let peak = try XCTUnwrap(profile.peakCompute(precision), "\(profile.name) \(precision)")
                XCTAssertGreaterThan(peak, 0)
            }
            XCTAssertTrue(profile.memory != nil || (profile.onChip?.overflow == .streamFromHost && profile.hostLink != nil),
                          "\(profile.name): weights need a home")
            XCTAssertNotNil(profile.defaultPowerMode, profile.name)
            XCTAssertTrue(profile.power.modes.contains { $0.throughputScale == 1 }, "\(profile.name): a full-speed mode")
            if profile.precisions.supported.contains(.int8) {
                XCTAssertNotNil(profile.precisions.quantization[.int8], profile.name)
            }
            XCTAssertGreaterThan(profile.price.usd, 0)
            XCTAssertGreaterThan(profile.efficiency.default.compute, 0)
        }
    }

    /// Spot checks of figures against their sources, so a typo in a unit is caught.
    func testKeyFiguresMatchTheirSources() throws {
        let catalog = try loadCatalog()
        func profile(_ name: String) throws -> DeviceProfile { try catalog.profile(named: name) }

        let usb = try profile("coral-usb")
        XCTAssertEqual(usb.peakCompute(.int8), 4e12)                       // coral-benchmarks: 4 TOPS
        XCTAssertEqual(usb.onChip?.capacity, 8 * 1_048_576)                // ~8 MB parameter cache
        XCTAssertEqual(usb.onChip?.overflow, .streamFromHost)
        XCTAssertNil(usb.memory)
        XCTAssertEqual(usb.hostLink?.kind, .usb3)
        XCTAssertEqual(usb.hostLink?.bandwidth, 625e6)                     // 5 Gbit/s
        XCTAssertEqual(usb.partition.rule, .firstContiguousSubgraph)
        XCTAssertEqual(usb.precisions.supported, [.int8])
        XCTAssertEqual(usb.precisions.quantization[.int8]?.fullInteger, true)
        XCTAssertEqual(usb.operators.maxNonUnitDims, 3)
        XCTAssertEqual(usb.operators.rule(for: "Softmax")?.maxElements, 16000)

        let nano = try profile("jetson-nano")
        XCTAssertEqual(nano.peakCompute(.fp16), 472e9)                     // NVIDIA: 472 GFLOPS
        XCTAssertNil(nano.peakCompute(.int8))                              // no INT8 path on Maxwell
        XCTAssertEqual(nano.memory?.bandwidth, 25.6e9)
        XCTAssertEqual(nano.memory?.capacity, 4e9)

        // Dense, not sparse: AGX Orin 64GB GPU is 170 sparse INT8 TOPS = 85.2 dense.
        let orin = try profile("jetson-agx-orin-64gb")
        XCTAssertEqual(try XCTUnwrap(orin.peakCompute(.int8)) / 1e12, 85.2, accuracy: 0.1)
        XCTAssertEqual(orin.memory?.bandwidth, 204.8e9)
        XCTAssertEqual(orin.secondaryAccelerators.first?.count, 2)
        XCTAssertNotNil(orin.secondaryAccelerators.first?.operators, "DLA operators come from the family")

        let superKit = try profile("jetson-orin-nano-8gb-super")
        XCTAssertEqual(try XCTUnwrap(superKit.peakCompute(.int8)) / 1e12, 67.0 / 2, accuracy: 0.2)
        XCTAssertEqual(superKit.memory?.bandwidth, 102e9)
        XCTAssertEqual(superKit.price.usd, 249)

        let ncs2 = try profile("intel-ncs2")
        XCTAssertEqual(ncs2.precisions.supported, [.fp16])
        XCTAssertTrue(ncs2.toolchain.versions.contains("2022.3"))

        let ascend = try profile("ascend-310")                             // alias used by the calibration table
        XCTAssertEqual(ascend.name, "atlas-200-dk")
        XCTAssertEqual(ascend.peakCompute(.int8), 22e12)
        XCTAssertTrue(ascend.operators.staticShapes)

        let a2 = try profile("atlas-200i-dk-a2")
        XCTAssertEqual(a2.peakCompute(.fp16), 4e12)
        XCTAssertEqual(a2.memory?.bandwidth, 25.6e9)
    }

    /// The calibration table's device names must all resolve, or the later fit cannot use its rows.
    func testCalibrationTableDeviceNamesResolve() throws {
        let catalog = try loadCatalog()
        for name in ["coral-dev-board", "coral-usb", "jetson-nano", "jetson-agx-xavier", "jetson-agx-orin-64gb", "ascend-310"] {
            XCTAssertNoThrow(try catalog.profile(named: name), name)
        }
        XCTAssertThrowsError(try catalog.profile(named: "jetson-nope")) { error in
            XCTAssertEqual((error as? EdgeError)?.exitStatus, .badInput)
        }
    }
}

import XCTest

final class EdgeDevicesPlaceholder: XCTestCase {}

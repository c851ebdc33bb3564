import XCTest

final class EdgeRuntimePlaceholder: XCTestCase {}

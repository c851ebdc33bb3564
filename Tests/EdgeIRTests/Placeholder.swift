import XCTest

final class EdgeIRPlaceholder: XCTestCase {}

import XCTest

final class EdgeKernelsPlaceholder: XCTestCase {}

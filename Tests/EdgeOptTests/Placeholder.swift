import XCTest

final class EdgeOptPlaceholder: XCTestCase {}

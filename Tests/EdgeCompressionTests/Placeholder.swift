import XCTest

final class CompressionPlaceholder: XCTestCase {}

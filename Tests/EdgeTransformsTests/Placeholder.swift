import XCTest

final class TransformsPlaceholder: XCTestCase {}

import XCTest

final class EdgeAnalysisPlaceholder: XCTestCase {}

import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Every ONNX node conformance case of RNN, GRU and LSTM against the suite's reference outputs.
final class RecurrentConformanceTests: XCTestCase {
    func testRecurrentOperatorCasesPass() throws {
        try ConformanceCases.assertAllPass(prefixes: ["test_lstm", "test_gru", "test_rnn", "test_simple_rnn"], minimumCount: 15)
    }
}

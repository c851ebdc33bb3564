import EdgeIR
import Foundation
import XCTest

/// Shape inference against the ONNX node conformance suite: for every case, the declared output
/// types and value_info are removed, small inputs (shape vectors, axes, scales, K) become
/// initializers from the case's own input .pb files, and each output shape edgeopt infers fully
/// must equal the shape of the reference output the suite ships. Needs `EDGEOPT_FIXTURES`.
final class ShapeInferenceConformanceTests: XCTestCase {
    struct Outcome {
        var checked = 0
        var matched = 0
        var unknown = 0
        var unknownCases: [String] = []
        var mismatches: [String] = []
        var failures: [String] = []
    }

    func testInferredOutputShapesMatchNodeSuiteReferenceOutputs() throws {
        guard let root = ProcessInfo.processInfo.environment["EDGEOPT_FIXTURES"] else {
            throw XCTSkip("EDGEOPT_FIXTURES is not set")
        }
        let suite = root + "/node"
        let cases = try FileManager.default.contentsOfDirectory(atPath: suite).filter { $0.hasPrefix("test_") }.sorted()
        guard !cases.isEmpty else { throw XCTSkip("no node cases under \(suite)") }
        var outcome = Outcome()
        for name in cases {
            check(caseDirectory: suite + "/" + name, name: name, into: &outcome)
        }
        let summary = "checked \(outcome.checked) outputs: \(outcome.matched) matched, \(outcome.unknown) not fully inferred"
        print("node-suite shape inference: \(summary)")
        if ProcessInfo.processInfo.environment["EDGEOPT_VERBOSE"] != nil {
            print("not fully inferred: \(outcome.unknownCases.joined(separator: " "))")
        }
        XCTAssertEqual(outcome.mismatches, [], "wrong shapes (\(summary))")
        XCTAssertEqual(outcome.failures, [], "inference threw on valid models")
        // Coverage floor: most outputs of the suite must be inferred exactly, not just "unknown".
        XCTAssertGreaterThan(Double(outcome.matched), 0.88 * Double(outcome.checked), summary)
    }

    private func check(caseDirectory dir: String, name: String, into outcome: inout Outcome) {
        let dataSet = dir + "/test_data_set_0"
        guard var model = try? ONNXReader.read(path: dir + "/model.onnx") else { return }
        var expected: [Int: Tensor] = [:]
        for k in model.graph.outputs.indices {
            guard let (_, tensor) = try? TensorProtoFile.read(path: "\(dataSet)/output_\(k).pb") else { continue }
            expected[k] = tensor
        }
        guard !expected.isEmpty else { return } // sequence/optional outputs: not tensors
        for (k, input) in model.graph.inputs.enumerated() {
            guard let (_, tensor) = try? TensorProtoFile.read(path: "\(dataSet)/input_\(k).pb") else { continue }
            if tensor.elementCount <= 16, tensor.dtype != .string {
                model.graph.initializers[input.name] = tensor
            }
        }
        model.graph.valueInfo = []
        for k in model.graph.outputs.indices { model.graph.outputs[k].type = nil }
        let result: ShapeInferenceResult
        do {
            result = try ShapeInference.infer(model: model)
        } catch {
            outcome.failures.append("\(name): \(error)")
            return
        }
        for (k, tensor) in expected.sorted(by: { $0.key < $1.key }) {
            outcome.checked += 1
            let output = model.graph.outputs[k].name
            guard let inferred = result.types[output], let shape = inferred.fixedShape else {
                outcome.unknown += 1
                outcome.unknownCases.append(name)
                continue
            }
            if shape == tensor.shape {
                outcome.matched += 1
            } else {
                outcome.mismatches.append("\(name) output \(k): inferred \(shape), reference \(tensor.shape)")
            }
        }
    }
}

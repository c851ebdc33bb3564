import EdgeIR

/// Every pass by name, and the default pipeline.
public enum PassRegistry {
    /// All passes, in default pipeline order. Cleanup first (it exposes patterns), then the
    /// fusions that fold weights, then pattern recognition, and activation fusion last (it needs
    /// the Conv/Gemm nodes the earlier fusions produce).
    public static let all: [any GraphPass] = [
        EliminateIdentity(),
        FoldConstants(),
        EliminateNoOps(),
        EliminateDeadNodes(),
        EliminateCommonSubexpressions(),
        DeduplicateWeights(),
        CancelTransposes(),
        CancelReshapes(),
        FoldBatchNormIntoConv(),
        FoldPadIntoConv(),
        FuseMatMulAdd(),
        FoldTransposeIntoGemm(),
        FoldAffineIntoConv(),
        ReduceMeanToGlobalPool(),
        FuseLayerNorm(),
        FuseGelu(),
        FuseHardSwish(),
        FuseSiLU(),
        FuseActivations(),
    ]

    public static var names: [String] { all.map { type(of: $0).name } }

    public static func pass(named name: String) -> (any GraphPass)? {
        all.first { type(of: $0).name == name }
    }

    /// Passes for a `--passes` value: "default", or a comma-separated list of names.
    public static func passes(for spec: String) throws -> [any GraphPass] {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed == "default" { return all }
        return try trimmed.split(separator: ",").map { raw in
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard let pass = pass(named: name) else {
                throw EdgeError.badInput("unknown pass '\(name)'; known passes: \(names.joined(separator: ", "))")
            }
            return pass
        }
    }
}

import Foundation

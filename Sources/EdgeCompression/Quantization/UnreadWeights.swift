import EdgeIR
import EdgeTransforms

extension Graph {
    /// Drops the nodes and weights nothing reads any more — the float weights a quantizer has just
    /// replaced by integer ones — with the model's opset imports for the pass context.
    mutating func removeUnread(opsetImports: [OpsetImport]) throws {
        let context = PassContext(model: Model(opsetImports: opsetImports, graph: self))
        _ = try Pipeline.apply(EliminateDeadNodes(), to: &self, context: context)
    }
}

/// Which efficiency class an ONNX operator's cost falls in. Kept next to the schema so the
/// profiles' `efficiency.classes` and the latency model agree on what each class covers.
extension OpClass {
    /// `group` is the Conv `group` attribute and `channels` its input channel count, which
    /// together tell a depthwise convolution (group == channels > 1) from a regular one.
    public static func of(opType: String, group: Int = 1, channels: Int? = nil) -> OpClass {
        switch opType {
        case "Conv", "ConvInteger", "QLinearConv", "ConvTranspose":
            if group > 1, let channels, group == channels { return .depthwiseConv }
            return .conv
        case "MatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "Einsum", "Attention":
            return .matmul
        case "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "Elu", "Selu",
             "Gelu", "Softplus", "Softsign", "Mish", "Erf", "ThresholdedRelu", "Celu":
            return .activation
        case "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Exp", "Log", "Abs", "Neg", "Max", "Min",
             "Sum", "Mean", "Where", "Equal", "Less", "Greater", "Not", "And", "Or", "Floor", "Ceil", "Round",
             "QuantizeLinear", "DequantizeLinear", "Cast", "Sign", "Mod", "BitShift":
            return .elementwise
        case "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool":
            return .pooling
        case "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
             "LpNormalization", "LRN", "RMSNormalization", "SimplifiedLayerNormalization":
            return .normalization
        case "Softmax", "LogSoftmax", "Hardmax":
            return .softmax
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
             "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "TopK":
            return .reduction
        case "Resize", "Upsample", "GridSample", "RoiAlign":
            return .resize
        default:
            // Reshape, Transpose, Concat, Split, Slice, Gather, Pad, Flatten, Squeeze, Expand, Tile…:
            // no arithmetic, cost is bytes moved.
            return .dataMovement
        }
    }
}

extension Kernels {
    /// Float → IEEE binary16 bits, round-to-nearest-even; overflow → ±inf, NaN stays NaN
    /// (bit-identical to `Float16(x).bitPattern`). Uses F16C where the ISA has it.
    public static func floatToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int, isa: KernelISA? = nil) {
        KernelSet.forISA(isa).floatToHalf(src, dst, count)
    }
    /// IEEE binary16 bits → Float (exact).
    public static func halfToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int, isa: KernelISA? = nil) {
        KernelSet.forISA(isa).halfToFloat(src, dst, count)
    }
    /// Float → bfloat16 bits, round-to-nearest-even; NaN stays a quiet NaN (as ONNX Cast and
    /// PyTorch do).
    public static func floatToBFloat16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int, isa: KernelISA? = nil) {
        KernelSet.forISA(isa).floatToBFloat16(src, dst, count)
    }
    /// bfloat16 bits → Float (exact).
    public static func bfloat16ToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int, isa: KernelISA? = nil) {
        KernelSet.forISA(isa).bfloat16ToFloat(src, dst, count)
    }
    /// Rounds a float buffer through binary16 in place (the FP16 execution mode).
    public static func roundThroughHalf(_ buffer: UnsafeMutablePointer<Float>, count: Int, isa: KernelISA? = nil) {
        let ks = KernelSet.forISA(isa)
        var tmp = [UInt16](repeating: 0, count: 256)
        tmp.withUnsafeMutableBufferPointer { t in
            var i = 0
            while i < count {
                let n = min(256, count - i)
                ks.floatToHalf(buffer + i, t.baseAddress!, n)
                ks.halfToFloat(t.baseAddress!, buffer + i, n)
                i += n
            }
        }
    }
}

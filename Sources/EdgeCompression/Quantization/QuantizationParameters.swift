import EdgeIR
import Foundation

/// Scale and zero point of one per-tensor quantized activation: x ≈ (q − zeroPoint)·scale.
public struct ActivationQuantization: Sendable, Equatable {
    public var scale: Float
    public var zeroPoint: Int32
    public var type: DType

    /// From a float range. The range is first widened to contain 0 (so that zero — padding,
    /// ReLU's floor — is exact). Symmetric: scale = max(|lo|, |hi|)/127, zero point 0.
    /// Asymmetric: scale = (hi − lo)/255, zero point = qmin − round(lo/scale), clamped to the type.
    /// A zero-width range gets scale 1 (any positive scale represents 0 exactly).
    public init(range: ClosedRange<Float>, type: DType, symmetric: Bool) {
        let lo = Swift.min(range.lowerBound, 0), hi = Swift.max(range.upperBound, 0)
        let (qmin, qmax): (Int32, Int32) = type == .uint8 ? (0, 255) : (-128, 127)
        self.type = type
        if symmetric {
            let m = Swift.max(abs(lo), abs(hi))
            scale = m > 0 && m.isFinite ? m / 127 : 1
            zeroPoint = type == .uint8 ? 128 : 0
        } else {
            let width = hi - lo
            scale = width > 0 && width.isFinite ? width / Float(qmax - qmin) : 1
            let z = (Float(qmin) - lo / scale).rounded(.toNearestOrEven)
            zeroPoint = Int32(Swift.min(Swift.max(z, Float(qmin)), Float(qmax)))
        }
    }

    public var scaleTensor: Tensor { .scalar(scale) }
    public var zeroPointTensor: Tensor {
        type == .uint8 ? .scalar(UInt8(zeroPoint)) : .scalar(Int8(zeroPoint))
    }
}

/// A weight quantized to int8 symmetrically (zero point 0), per tensor or per channel along `axis`.
public struct QuantizedWeight: Sendable {
    public var values: Tensor
    /// One scale per channel (per-channel), or one (per-tensor).
    public var scales: [Float]
    public var axis: Int?

    /// q = clamp(roundHalfEven(w / s), −127, 127) with s = max|w| / 127 over the tensor or over
    /// each slice along `axis`; an all-zero slice gets s = 1. The range is [−127, 127] (not −128)
    /// so that negation is exact and the int8×int8 products of a symmetric scheme never overflow
    /// int16 pairs (as ONNX Runtime and TensorRT do).
    public init(_ w: Tensor, axis: Int?) throws {
        guard w.dtype == .float else {
            throw EdgeError.unsupported("weight of type \(w.dtype) cannot be quantized (float32 expected)")
        }
        let data: [Float] = w.scalars()
        let shape = w.shape
        let channels = axis.map { shape[$0] } ?? 1
        let inner = axis.map { shape[($0 + 1)...].reduce(1, *) } ?? data.count
        var peak = [Float](repeating: 0, count: Swift.max(channels, 1))
        for (i, v) in data.enumerated() {
            let c = axis == nil ? 0 : (i / inner) % channels
            if v.isFinite { peak[c] = Swift.max(peak[c], abs(v)) }
        }
        let scales = peak.map { $0 > 0 ? $0 / 127 : Float(1) }
        var q = [Int8](repeating: 0, count: data.count)
        for (i, v) in data.enumerated() {
            let c = axis == nil ? 0 : (i / inner) % channels
            let r = (v / scales[c]).rounded(.toNearestOrEven)
            q[i] = Int8(Swift.min(Swift.max(r.isNaN ? 0 : r, -127), 127))
        }
        self.values = Tensor(shape: shape, scalars: q)
        self.scales = scales
        self.axis = axis
    }

    public var scaleTensor: Tensor {
        axis == nil ? .scalar(scales[0]) : Tensor(shape: [scales.count], scalars: scales)
    }
    public var zeroPointTensor: Tensor {
        axis == nil ? .scalar(Int8(0)) : Tensor(shape: [scales.count], scalars: [Int8](repeating: 0, count: scales.count))
    }
}

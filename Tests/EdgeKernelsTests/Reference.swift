import EdgeKernels
import XCTest

/// Deterministic pseudo-random data (xorshift), so failures reproduce.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Int64(next() >> 40) - (1 << 23)) / Float(1 << 23) }
    mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
}

/// Naive double-precision references.
enum Reference {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
                     b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                let prior: Double = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                out[i * ldc + j] = Float(Double(alpha) * s + prior)
            }
        }
        return out
    }

    static func activate(_ x: Float, _ act: Activation) -> Float {
        let d = Double(x)
        switch act {
        case .none: return x
        case .relu: return x < 0 ? 0 : x
        case let .clip(lo, hi): return x < lo ? lo : (x > hi ? hi : x)
        case let .leakyRelu(a): return x < 0 ? a * x : x
        case .sigmoid: return Float(1 / (1 + exp(-d)))
        case let .hardSigmoid(a, b): return Float(max(0, min(1, Double(a) * d + Double(b))))
        case .hardSwish: return Float(d * max(0, min(1, d / 6 + 0.5)))
        case .silu: return Float(d / (1 + exp(-d)))
        case .tanh: return Float(Foundation.tanh(d))
        case .gelu: return Float(0.5 * d * (1 + erf(d / 2.0.squareRoot())))
        }
    }

    /// Conv over any rank via 3-D indexing; input C_in × in, weights [C_out, C_in/g, k…].
    /// `conv` over a batch of images stored one after another, each output activated.
    static func conv(_ g: ConvGeometry, batch: Int, input: [Float], weights: [Float], bias: [Float]?, activation: Activation) -> [Float] {
        let plane = g.inChannels * g.inputPlane
        var out = [Float]()
        for img in 0..<batch {
            let x = Array(input[(img * plane)..<((img + 1) * plane)])
            out += conv(g, input: x, weights: weights, bias: bias).map { activate($0, activation) }
        }
        return out
    }

    static func conv(_ g: ConvGeometry, input: [Float], weights: [Float], bias: [Float]?) -> [Float] {
        let lead = 3 - g.rank
        func ext(_ v: [Int], _ f: Int) -> [Int] { Array(repeating: f, count: lead) + v }
        let i = ext(g.inputSize, 1), o = ext(g.outputSize, 1), k = ext(g.kernelSize, 1)
        let s = ext(g.strides, 1), d = ext(g.dilations, 1), p = ext(g.padsBegin, 0)
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        var out = [Float](repeating: 0, count: g.outChannels * g.outputPlane)
        for co in 0..<g.outChannels {
            let grp = co / cog
            for oz in 0..<o[0] { for oy in 0..<o[1] { for ox in 0..<o[2] {
                var acc = Double(bias?[co] ?? 0)
                for ci in 0..<cig { for kz in 0..<k[0] { for ky in 0..<k[1] { for kx in 0..<k[2] {
                    let iz = oz * s[0] - p[0] + kz * d[0], iy = oy * s[1] - p[1] + ky * d[1], ix = ox * s[2] - p[2] + kx * d[2]
                    if iz < 0 || iz >= i[0] || iy < 0 || iy >= i[1] || ix < 0 || ix >= i[2] { continue }
                    let x = input[(((grp * cig + ci) * i[0] + iz) * i[1] + iy) * i[2] + ix]
                    let w = weights[(((co * cig + ci) * k[0] + kz) * k[1] + ky) * k[2] + kx]
                    acc += Double(x) * Double(w)
                } } } }
                out[((co * o[0] + oz) * o[1] + oy) * o[2] + ox] = Float(acc)
            } } }
        }
        return out
    }
}

func assertClose(_ got: [Float], _ want: [Float], rtol: Float = 1e-4, atol: Float = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, want.count, what, file: file, line: line)
    var bad = 0
    for i in 0..<min(got.count, want.count) {
        let g = got[i], w = want[i]
        if g.isNaN && w.isNaN { continue }
        if g == w { continue }
        if !(abs(g - w) <= atol + rtol * abs(w)) {
            if bad < 3 { XCTFail("\(what): [\(i)] got \(g) want \(w)", file: file, line: line) }
            bad += 1
        }
    }
    if bad > 3 { XCTFail("\(what): \(bad) mismatches in total", file: file, line: line) }
}

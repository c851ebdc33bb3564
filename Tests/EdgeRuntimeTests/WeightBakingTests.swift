import EdgeIR
@testable import EdgeRuntime
import Foundation
import XCTest

/// A session keeps each constant weight once: Conv, ConvTranspose and Gemm pack their weights
/// at compile time and the float originals are released, while the packed weights still serve
/// every input size.
extension SessionTests {
    func testSessionReleasesFloatWeightsOncePackedAndServesEveryInputSize() throws {
        var g = SplitMix(seed: 31)
        let w = (0..<(4 * 2 * 3 * 3)).map { _ in g.float() }, b: [Float] = [0.25, -0.5, 1, 0]
        let gemmB = (0..<(4 * 3)).map { _ in g.float() }
        weak var convWeights: AnyObject?
        weak var gemmWeights: AnyObject?
        let convSession: Session, gemmSession: Session
        do {
            let wt = Tensor(shape: [4, 2, 3, 3], scalars: w), bt = Tensor(shape: [3, 4], scalars: gemmB)
            convWeights = wt.storage
            gemmWeights = bt.storage
            let conv = model([Node(opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"], attributes: [Attribute("pads", .ints([1, 0, 1, 0]))])],
                             inputs: [floatInput("x", [.fixed(1), .fixed(2), .symbolic("h"), .symbolic("w")])], outputs: ["y"],
                             initializers: ["w": wt, "b": Tensor(shape: [4], scalars: b)])
            let gemm = model([Node(opType: "Gemm", inputs: ["a", "b"], outputs: ["y"], attributes: [Attribute("transB", .int(1))])],
                             inputs: [floatInput("a", [.fixed(2), .fixed(4)])], outputs: ["y"], initializers: ["b": bt])
            convSession = try Session(model: conv, options: SessionOptions(threads: 1))
            gemmSession = try Session(model: gemm, options: SessionOptions(threads: 2))
        }
        XCTAssertNil(convWeights, "the Conv session still holds the float weights next to the packed ones")
        XCTAssertNil(gemmWeights, "the Gemm session still holds the float B next to the packed one")

        for (h, wd) in [(5, 7), (3, 3), (8, 4)] {
            let x = (0..<(2 * h * wd)).map { _ in g.float() }
            let y = try convSession.run(["x": Tensor(shape: [1, 2, h, wd], scalars: x)])["y"]!
            let (oh, ow) = (h, wd - 2)
            XCTAssertEqual(y.shape, [1, 4, oh, ow])
            let got = y.scalars(as: Float.self)
            for oc in 0..<4 { for oy in 0..<oh { for ox in 0..<ow {
                var s = Double(b[oc])
                for ic in 0..<2 { for ky in 0..<3 { for kx in 0..<3 {
                    let iy = oy - 1 + ky, ix = ox + kx
                    if iy >= 0 && iy < h { s += Double(x[(ic * h + iy) * wd + ix]) * Double(w[((oc * 2 + ic) * 3 + ky) * 3 + kx]) }
                } } }
                XCTAssertEqual(Double(got[(oc * oh + oy) * ow + ox]), s, accuracy: 1e-5, "\(h)×\(wd) at \(oc),\(oy),\(ox)")
            } } }
        }
        let a: [Float] = [1, 2, 3, 4, -1, 0.5, 0, 2]
        let y = try gemmSession.run(["a": Tensor(shape: [2, 4], scalars: a)])["y"]!.scalars(as: Float.self)
        for r in 0..<2 { for c in 0..<3 {
            let s = (0..<4).reduce(Double(0)) { $0 + Double(a[r * 4 + $1]) * Double(gemmB[c * 4 + $1]) }
            XCTAssertEqual(Double(y[r * 3 + c]), s, accuracy: 1e-5)
        } }
    }
}

extension SessionTests {
    /// Multi-threaded sessions can be created, run and released over and over (the kernels'
    /// thread pool once captured itself `unowned` in its workers and trapped on release).
    func testMultiThreadedSessionsCanBeReleasedRepeatedly() throws {
        let m = model([Node(opType: "Relu", inputs: ["x"], outputs: ["y"])], inputs: [floatInput("x", [.fixed(1 << 17)])], outputs: ["y"])
        let x = Tensor(shape: [1 << 17], scalars: (0..<(1 << 17)).map { Float($0 % 7) - 3 })
        for round in 0..<20 {
            let session = try Session(model: m, options: SessionOptions(threads: 2 + round % 2))
            let y = try session.run(["x": x])["y"]!.scalars(as: Float.self)
            XCTAssertEqual(y[0], 0)
            XCTAssertEqual(y[6], 3)
        }
    }
}

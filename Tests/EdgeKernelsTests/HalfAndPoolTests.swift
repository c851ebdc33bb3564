import EdgeKernels
import XCTest

final class HalfConversionTests: XCTestCase {
    func testFloatToHalfIsBitExactAgainstFloat16() {
        var rng = TestRandom(seed: 5)
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, 5.96e-8, 2.98e-8, 2.9802326e-8, 6.1e-5,
                               .infinity, -.infinity, .nan, .greatestFiniteMagnitude, 1.00048828125, 1.0009765625 + 0.00048828125]
        for _ in 0..<5000 { values.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        for _ in 0..<5000 { values.append(rng.float() * 70000) }
        for isa in KernelISA.supported {
            var h = [UInt16](repeating: 0, count: values.count)
            Kernels.floatToHalf(values, &h, count: values.count, isa: isa)
            for (i, v) in values.enumerated() {
                let want = Float16(v)
                if want.isNaN { XCTAssertTrue(Float16(bitPattern: h[i]).isNaN, "\(isa) NaN"); continue }
                XCTAssertEqual(h[i], want.bitPattern, "\(isa) \(v)")
            }
            var back = [Float](repeating: 0, count: values.count)
            Kernels.halfToFloat(h, &back, count: h.count, isa: isa)
            for i in 0..<h.count {
                let want = Float(Float16(bitPattern: h[i]))
                XCTAssertTrue(back[i] == want || (back[i].isNaN && want.isNaN), "\(isa) h→f \(h[i])")
            }
        }
    }

    func testBFloat16RoundsToNearestEven() {
        // 1 + 2⁻⁸ is a tie between 1 and 1 + 2⁻⁷: even mantissa (1.0) wins; 1 + 3·2⁻⁸ rounds up.
        let values: [Float] = [1 + 1.0 / 256, 1 + 3.0 / 256, -(1 + 3.0 / 256), .infinity, .nan, 3.0e38, 0, -0.0,
                               Float(bitPattern: 0x3F80_8001)] + (0..<40).map { Float($0) * 0.37 - 7 }
        for isa in KernelISA.supported {
            var b = [UInt16](repeating: 0, count: values.count)
            Kernels.floatToBFloat16(values, &b, count: values.count, isa: isa)
            for (i, v) in values.enumerated() {
                let u = v.bitPattern
                if v.isNaN { XCTAssertTrue(Float(bitPattern: UInt32(b[i]) << 16).isNaN); continue }
                // Reference: nearest of the two bfloat16 neighbours in Double, ties to even.
                let lo = u & 0xFFFF_0000, hi = lo &+ 0x1_0000
                let dl = abs(Double(v) - Double(Float(bitPattern: lo))), dh = abs(Double(Float(bitPattern: hi)) - Double(v))
                let want: UInt32 = dl < dh ? lo : (dh < dl ? hi : ((lo >> 16) & 1 == 0 ? lo : hi))
                XCTAssertEqual(UInt32(b[i]) << 16, want, "\(isa) \(v)")
            }
            var back = [Float](repeating: 0, count: b.count)
            Kernels.bfloat16ToFloat(b, &back, count: b.count, isa: isa)
            for i in 0..<b.count where !values[i].isNaN { XCTAssertEqual(back[i].bitPattern, UInt32(b[i]) << 16) }
        }
    }
}

final class ThreadPoolTests: XCTestCase {
    func testEveryIndexRunsOnceAcrossRepeatedCalls() {
        let pool = ThreadPool(threads: 2)
        XCTAssertEqual(pool.threadCount, 2)
        for count in [1, 2, 3, 17, 1000] {
            for _ in 0..<50 {
                var hits = [Int](repeating: 0, count: count)
                hits.withUnsafeMutableBufferPointer { h in
                    let p = h.baseAddress!
                    pool.parallelFor(count) { i, worker in
                        XCTAssert(worker < 2)
                        p[i] += 1
                    }
                }
                XCTAssertEqual(hits, [Int](repeating: 1, count: count))
            }
        }
    }

    func testNestedCallRunsSeriallyInsteadOfDeadlocking() {
        let pool = ThreadPool(threads: 2)
        var sums = [Int](repeating: 0, count: 4)
        sums.withUnsafeMutableBufferPointer { s in
            let p = s.baseAddress!
            pool.parallelFor(4) { i in
                pool.parallelFor(10) { j in p[i] += j }
            }
        }
        XCTAssertEqual(sums, [45, 45, 45, 45])
    }

    func testPoolsCanBeReleasedAtAnyTime() {
        // Released before its worker has started, right after a call (worker still spinning),
        // and after sleeping: each must shut its worker down without touching freed memory.
        for i in 0..<200 {
            let pool = ThreadPool(threads: 2)
            if i % 2 == 1 {
                var sum = [Int](repeating: 0, count: 2)
                sum.withUnsafeMutableBufferPointer { s in
                    let p = s.baseAddress!
                    pool.parallelFor(2) { j, _ in p[j] = j + 1 }
                }
                XCTAssertEqual(sum, [1, 2])
            }
        }
        let sleepy = ThreadPool(threads: 2)
        sleepy.parallelFor(4) { _ in }
        usleep(2_000)  // past the spin budget: the worker is asleep on its semaphore
        var hits = [Int](repeating: 0, count: 4)
        hits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            sleepy.parallelFor(4) { i in p[i] += 1 }
        }
        XCTAssertEqual(hits, [1, 1, 1, 1])
    }

    func testSingleThreadPoolRunsOnCaller() {
        let pool = ThreadPool(threads: 1)
        var order = [Int]()
        pool.parallelFor(5) { i in order.append(i) }
        XCTAssertEqual(order, [0, 1, 2, 3, 4])
    }
}

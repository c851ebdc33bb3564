@testable import EdgeKernels
import Foundation
import Synchronization
import XCTest

/// `ScratchRegion`: how `Workspace.with` borrows from a node's arena slice — nested borrows stack,
/// a borrow that does not fit falls back to the shared cache, and a recording region measures the
/// deepest stack.
final class WorkspaceRegionTests: XCTestCase {
    func testRecordingMeasuresTheDeepestStackOfRoundedBorrows() {
        let region = ScratchRegion()
        region.bind {
            Workspace.with(floats: 100) { _ in          // 112 after rounding to 16 floats
                Workspace.with(floats: 30) { _ in }      // + 32
            }
            Workspace.with(floats: 140) { _ in }         // 144 alone: not deeper than 112 + 32
        }
        XCTAssertEqual(region.peakFloats, 144)
        XCTAssertEqual(region.peakBytes, 576)
        Workspace.with(floats: 1000) { _ in }            // unbound: not recorded
        XCTAssertEqual(region.peakFloats, 144)
    }

    func testPlannedRegionStacksBorrowsAndFallsBackWhenFull() {
        let bytes = 144 * 4
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { raw.deallocate() }
        let base = raw.assumingMemoryBound(to: Float.self)
        let inside = { (p: UnsafeMutablePointer<Float>) in p >= base && p < base + 144 }
        let region = ScratchRegion(base: raw, bytes: bytes)
        var seen: [Int] = []
        region.bind {
            Workspace.with(floats: 100) { a in
                seen.append(a - base)
                Workspace.with(floats: 30) { b in
                    seen.append(b - base)
                    Workspace.with(floats: 1) { c in XCTAssertFalse(inside(c), "a full region must fall back to the cache") }
                }
                Workspace.with(floats: 20) { b in seen.append(b - base) }   // the 30's space came back
            }
            Workspace.with(floats: 144) { a in seen.append(a - base) }
            Workspace.with(floats: 145) { a in XCTAssertFalse(inside(a)) }
        }
        XCTAssertEqual(seen, [0, 112, 112, 0])
        Workspace.with(floats: 16) { a in XCTAssertFalse(inside(a), "an unbound thread must not use the region") }
    }

    func testOtherThreadsDoNotSeeTheBoundRegion() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
        defer { raw.deallocate() }
        let region = ScratchRegion(base: raw, bytes: 4096)
        let base = UInt(bitPattern: raw)
        let seenOnWorker = Mutex<UInt>(0)
        region.bind {
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                Workspace.with(floats: 16) { p in seenOnWorker.withLock { $0 = UInt(bitPattern: p) } }
                done.signal()
            }
            done.wait()
        }
        XCTAssertNotEqual(seenOnWorker.withLock { $0 }, base)
    }
}

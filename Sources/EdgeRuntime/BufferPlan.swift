import EdgeIR
import EdgeKernels

/// Activation memory planning.
///
/// The first run for a given set of input shapes records every output buffer kernels allocate
/// (keyed by step and allocation order within the step), and when each is last read (following
/// kernels that return an input's storage unchanged, such as Reshape). Buffers whose lifetimes do
/// not overlap then share arena space: greedy best offset, largest buffer first. Later runs with
/// the same shapes hand out slices of one arena instead of allocating.
struct AllocationKey: Hashable {
    var step: Int
    var sequence: Int
    /// The kernels' scratch (`Workspace`) during one step: a buffer alive for that step only.
    static func scratch(step: Int) -> AllocationKey { AllocationKey(step: step, sequence: -1) }
}

struct BufferPlan {
    var slices: [AllocationKey: (offset: Int, bytes: Int)]
    var arenaBytes: Int
}

/// One contiguous, 64-byte aligned block of activation memory.
final class Arena: @unchecked Sendable {
    // @unchecked: the block is written only by the kernels of the single run that owns the arena.
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// Each step's kernel scratch slice, made once per plan (a region's stack is empty between
    /// steps, and a session's runs are serialised).
    let scratchRegions: [Int: ScratchRegion]
    init(plan: BufferPlan) {
        byteCount = plan.arenaBytes
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        self.base = base
        var regions: [Int: ScratchRegion] = [:]
        for (key, slice) in plan.slices where key.sequence == AllocationKey.scratch(step: key.step).sequence {
            regions[key.step] = ScratchRegion(base: base + slice.offset, bytes: slice.bytes)
        }
        scratchRegions = regions
    }
    deinit { base.deallocate() }
}

/// A tensor buffer inside an arena. Tensors handed back to callers never keep one (the session
/// copies graph outputs out of the arena), because the next run overwrites it.
final class ArenaStorage: TensorStorage, @unchecked Sendable {
    // @unchecked: immutable fields; see Arena.
    let arena: Arena
    let offset: Int
    let byteCount: Int
    var baseAddress: UnsafeRawPointer { UnsafeRawPointer(arena.base + offset) }
    init(arena: Arena, offset: Int, byteCount: Int) {
        self.arena = arena
        self.offset = offset
        self.byteCount = byteCount
    }
}

/// Hands out output buffers for one run of the main graph: from the plan when there is one,
/// otherwise from the heap while recording sizes and lifetimes for the next run.
final class BufferAllocator {
    private let plan: BufferPlan?
    private let arena: Arena?

    private struct Record {
        var bytes: Int
        var start: Int
        var end: Int
    }
    private var records: [AllocationKey: Record] = [:]
    private var keyOfStorage: [ObjectIdentifier: AllocationKey] = [:]

    init(plan: BufferPlan?, arena: Arena?) {
        self.plan = plan
        self.arena = arena
    }

    var isRecording: Bool { plan == nil }

    func storage(step: Int, sequence: Int, bytes: Int, zeroed: Bool) -> (any TensorStorage)? {
        guard let plan, let arena, let slice = plan.slices[AllocationKey(step: step, sequence: sequence)],
              bytes <= slice.bytes else { return nil }
        let storage = ArenaStorage(arena: arena, offset: slice.offset, byteCount: bytes)
        if zeroed { (arena.base + slice.offset).initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
        return storage
    }

    func record(step: Int, sequence: Int, bytes: Int, storage: AnyObject) {
        guard isRecording else { return }
        let key = AllocationKey(step: step, sequence: sequence)
        records[key] = Record(bytes: bytes, start: step, end: step)
        keyOfStorage[ObjectIdentifier(storage)] = key
    }

    /// Where `step`'s kernels borrow scratch: a measuring region while recording, the step's
    /// arena slice once planned (nil when the recorded step borrowed none).
    func scratchRegion(step: Int) -> ScratchRegion? {
        guard plan != nil, let arena else { return ScratchRegion() }
        return arena.scratchRegions[step]
    }

    /// Records the scratch `region` measured while `step` ran.
    func recordScratch(step: Int, _ region: ScratchRegion) {
        guard isRecording, region.peakBytes > 0 else { return }
        records[.scratch(step: step)] = Record(bytes: region.peakBytes, start: step, end: step)
    }

    /// Notes that a value living until step `lastUse` holds `storage`.
    func noteUse(of storage: AnyObject, until lastUse: Int) {
        guard isRecording, let key = keyOfStorage[ObjectIdentifier(storage)] else { return }
        records[key]!.end = max(records[key]!.end, lastUse)
    }

    /// The plan for the recorded run: interval-overlap packing, largest first.
    func makePlan() -> BufferPlan {
        let alignment = 64
        let sorted = records.sorted { a, b in
            a.value.bytes != b.value.bytes ? a.value.bytes > b.value.bytes
                : (a.key.step, a.key.sequence) < (b.key.step, b.key.sequence)
        }
        var placed: [(offset: Int, bytes: Int, start: Int, end: Int)] = []
        var slices: [AllocationKey: (offset: Int, bytes: Int)] = [:]
        var total = 0
        for (key, record) in sorted {
            let size = (record.bytes + alignment - 1) / alignment * alignment
            // Occupied ranges among buffers alive at the same time, by offset.
            let conflicts = placed.filter { $0.start <= record.end && record.start <= $0.end }
                .sorted { $0.offset < $1.offset }
            var offset = 0
            for c in conflicts {
                if offset + size <= c.offset { break }
                offset = max(offset, (c.offset + c.bytes + alignment - 1) / alignment * alignment)
            }
            placed.append((offset, size, record.start, record.end))
            slices[key] = (offset, record.bytes)
            total = max(total, offset + size)
        }
        return BufferPlan(slices: slices, arenaBytes: total)
    }
}

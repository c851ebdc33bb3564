import EdgeIR
import Foundation
import OrderedCollections

/// Input samples for calibration and evaluation, read from one of three layouts and checked
/// against the model's inputs before any work starts.
///
/// Layouts:
/// - **`.npz`**: one array per model input, named after it, samples along axis 0. Other keys
///   (e.g. `label`) are carried as extras (`extra(named:)`), never fed to the model.
/// - **directory of `.npy` files**: either `<input name>.npy` per model input (samples along
///   axis 0, like the `.npz` layout; other `.npy` files are extras), or, for a model with exactly
///   one input, numbered files `0.npy`, `1.npy`, … each holding one batch for that input (taken in
///   numeric order).
/// - **ONNX test-data layout**: a directory of `test_data_set_*` directories, each holding
///   `input_K.pb` TensorProto files; `input_K` feeds the K-th runtime input (or the input its
///   TensorProto names, when it names one). Each set is one batch.
///
/// Whole arrays are split into batches of `batchSize` samples along axis 0 when the model's
/// batch dimension is symbolic; when the model fixes it, batches have exactly that size.
///
/// Memory stays at one batch whatever the data set's size: `.npz` members and `.npy` files are
/// opened by their headers (names, dtypes and shapes are checked against the model before any
/// work starts), then every pass over `batches()` reads only the current batch's rows — a byte
/// range of a stored member or `.npy` file, or the next stretch of a deflated member's stream.
/// Extras are read whole when asked for. Each input's bytes are read once up front to check
/// them (CRC-32, deflate stream, sizes), so a corrupt or truncated file is an error naming the
/// file and member before calibration starts.
public struct CalibrationDataSet: Sendable {
    /// Per sample-set feeds: either whole arrays to slice, or ready batches.
    enum Storage: Sendable {
        case arrays([String: Tensor], samples: Int)
        case batches([[String: Tensor]])
        /// Arrays read batch by batch from their files.
        case streamed([String: NumPyArraySource], samples: Int)
        /// Numbered `.npy` files, one batch each, read in turn.
        case batchFiles([[String: NumPyArraySource]])
    }

    public let source: String
    let storage: Storage
    /// Arrays of the source that are not model inputs (labels and the like), whole.
    public let extras: [String: Tensor]
    public let batchSize: Int
    /// Extras of the streamed layouts, read when asked for.
    var extraSources: [String: NumPyArraySource] = [:]

    /// Samples along axis 0 (for the batch layouts: the sum of the batches' first dimensions).
    public var sampleCount: Int {
        switch storage {
        case .arrays(_, let n), .streamed(_, let n): return n
        case .batches(let b): return b.reduce(0) { $0 + ($1.values.first?.shape.first ?? 1) }
        case .batchFiles(let b): return b.reduce(0) { $0 + ($1.values.first?.shape.first ?? 1) }
        }
    }

    /// Number of batches `batches()` yields.
    public var batchCount: Int {
        switch storage {
        case .arrays(_, let n), .streamed(_, let n): return (n + batchSize - 1) / batchSize
        case .batches(let b): return b.count
        case .batchFiles(let b): return b.count
        }
    }

    public func extra(named name: String) throws -> Tensor {
        if let t = extras[name] { return t }
        if let s = extraSources[name] { return try s.readAll() }
        let names = (Array(extras.keys) + Array(extraSources.keys)).sorted()
        throw EdgeError.badInput("'\(name)' is not an array of the data set (arrays: \(names.joined(separator: ", ")))", file: source)
    }

    /// Reads `path` (file or directory) and checks it against the model's runtime inputs.
    public static func load(path: String, model: Model, batchSize requested: Int = 32) throws -> CalibrationDataSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EdgeError.badInput("data set '\(path)' does not exist", file: path)
        }
        let inputs = model.graph.runtimeInputs
        guard !inputs.isEmpty else { throw EdgeError.badInput("the model has no runtime inputs to feed", file: path) }
        if !isDirectory.boolValue {
            guard path.hasSuffix(".npz") else {
                throw EdgeError.badInput("data set '\(path)' must be an .npz file or a directory (of .npy files or test_data_set_* directories)", file: path)
            }
            let members = try NPZFile.sources(path: path)
            return try fromSources(Dictionary(uniqueKeysWithValues: members.map { ($0.key, $0.source) }),
                                   inputs: inputs, source: path, batchSize: requested)
        }
        let entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        let sets = entries.filter { $0.hasPrefix("test_data_set_") }
        if !sets.isEmpty {
            var batches: [[String: Tensor]] = []
            for set in sets.sorted(by: numericOrder) {
                let dir = (path as NSString).appendingPathComponent(set)
                let files = try FileManager.default.contentsOfDirectory(atPath: dir)
                    .filter { $0.hasPrefix("input_") && $0.hasSuffix(".pb") }
                var feed: [String: Tensor] = [:]
                for file in files {
                    let index = Int(file.dropFirst("input_".count).dropLast(".pb".count))
                    let (name, tensor) = try TensorProtoFile.read(path: (dir as NSString).appendingPathComponent(file))
                    let key: String
                    if inputs.contains(where: { $0.name == name }) { key = name }
                    else if let index, inputs.indices.contains(index) { key = inputs[index].name }
                    else { throw EdgeError.badInput("\(set)/\(file) matches no model input (inputs: \(inputs.map(\.name).joined(separator: ", ")))", file: path) }
                    feed[key] = tensor
                }
                batches.append(feed)
            }
            return try fromBatches(batches, inputs: inputs, source: path)
        }
        let npys = entries.filter { $0.hasSuffix(".npy") }
        guard !npys.isEmpty else {
            throw EdgeError.badInput("data set directory '\(path)' holds no .npy files and no test_data_set_* directories", file: path)
        }
        let stems = npys.map { String($0.dropLast(4)) }
        if inputs.count == 1, stems.allSatisfy({ Int($0) != nil }) {
            let batches = try stems.sorted(by: numericOrder).map { stem in
                [inputs[0].name: try NumPyArraySource.npy(path: (path as NSString).appendingPathComponent(stem + ".npy"))]
            }
            guard !batches.isEmpty else { throw EdgeError.badInput("the data set is empty (no samples)", file: path) }
            for (k, feed) in batches.enumerated() {
                let s = feed[inputs[0].name]!
                try check(dtype: s.dtype, shape: s.shape, name: inputs[0].name, input: inputs[0], source: path, sampleAxisFree: false, what: "batch file \(k)")
            }
            return CalibrationDataSet(source: path, storage: .batchFiles(batches), extras: [:], batchSize: batches[0].values.first?.shape.first ?? 1)
        }
        var arrays: [String: NumPyArraySource] = [:]
        for stem in stems { arrays[stem] = try NumPyArraySource.npy(path: (path as NSString).appendingPathComponent(stem + ".npy")) }
        return try fromSources(arrays, inputs: inputs, source: path, batchSize: requested)
    }

    private static func numericOrder(_ a: String, _ b: String) -> Bool {
        let na = Int(a.filter(\.isNumber)), nb = Int(b.filter(\.isNumber))
        if let na, let nb, na != nb { return na < nb }
        return a < b
    }

    static func fromArrays(_ arrays: [String: Tensor], inputs: [ValueInfo], source: String, batchSize requested: Int) throws -> CalibrationDataSet {
        let (n, batch) = try layout(of: arrays.mapValues { (dtype: $0.dtype, shape: $0.shape) }, inputs: inputs, source: source, batchSize: requested)
        let inputNames = Set(inputs.map(\.name))
        let feeds = arrays.filter { inputNames.contains($0.key) }
        let extras = arrays.filter { !inputNames.contains($0.key) }
        return CalibrationDataSet(source: source, storage: .arrays(feeds, samples: n), extras: extras, batchSize: batch)
    }

    /// As `fromArrays`, on headers; each input's bytes are then checked once (`verify`).
    static func fromSources(_ arrays: [String: NumPyArraySource], inputs: [ValueInfo], source: String, batchSize requested: Int) throws -> CalibrationDataSet {
        let (n, batch) = try layout(of: arrays.mapValues { (dtype: $0.dtype, shape: $0.shape) }, inputs: inputs, source: source, batchSize: requested)
        let inputNames = Set(inputs.map(\.name))
        let feeds = arrays.filter { inputNames.contains($0.key) }
        for (_, s) in feeds.sorted(by: { $0.key < $1.key }) { try s.verify() }
        var set = CalibrationDataSet(source: source, storage: .streamed(feeds, samples: n), extras: [:], batchSize: batch)
        set.extraSources = arrays.filter { !inputNames.contains($0.key) }
        return set
    }

    /// Checks every model input against its array (present, dtype, shape with the sample axis
    /// free, one sample count for all) and returns the sample count and the batch size: the
    /// model's fixed batch dimension if it has one (which must divide the count), else `requested`.
    private static func layout(of arrays: [String: (dtype: DType, shape: [Int])], inputs: [ValueInfo], source: String,
                               batchSize requested: Int) throws -> (samples: Int, batch: Int) {
        var samples: Int?
        var fixedBatch: Int?
        for input in inputs {
            guard let t = arrays[input.name] else {
                throw EdgeError.badInput("the data set has no array named '\(input.name)' for model input '\(input.name)' (arrays: \(arrays.keys.sorted().joined(separator: ", ")))", file: source)
            }
            try check(dtype: t.dtype, shape: t.shape, name: input.name, input: input, source: source, sampleAxisFree: true)
            guard !t.shape.isEmpty else { throw EdgeError.badInput("array '\(input.name)' is a scalar; samples must lie along axis 0", file: source) }
            if let s = samples, s != t.shape[0] {
                throw EdgeError.badInput("array '\(input.name)' holds \(t.shape[0]) samples, other inputs \(s)", file: source)
            }
            samples = t.shape[0]
            if let d = input.tensorType?.shape?.first?.value { fixedBatch = d }
        }
        guard let n = samples, n > 0 else { throw EdgeError.badInput("the data set is empty (0 samples)", file: source) }
        if let fixedBatch, n % fixedBatch != 0 {
            throw EdgeError.badInput("the model fixes the batch dimension to \(fixedBatch), but the data set holds \(n) samples (not a multiple)", file: source)
        }
        return (n, fixedBatch ?? max(1, requested))
    }

    static func fromBatches(_ batches: [[String: Tensor]], inputs: [ValueInfo], source: String) throws -> CalibrationDataSet {
        guard !batches.isEmpty else { throw EdgeError.badInput("the data set is empty (no samples)", file: source) }
        for (k, feed) in batches.enumerated() {
            for input in inputs {
                guard let t = feed[input.name] else {
                    throw EdgeError.badInput("sample set \(k) has no tensor for model input '\(input.name)'", file: source)
                }
                try check(t, input: input, source: source, sampleAxisFree: false)
            }
        }
        return CalibrationDataSet(source: source, storage: .batches(batches), extras: [:], batchSize: batches[0].values.first?.shape.first ?? 1)
    }

    /// dtype, rank and fixed dimensions (axis 0 skipped when the arrays are sliced into batches,
    /// since the model's batch dimension then decides the slice size).
    static func check(_ t: Tensor, input: ValueInfo, source: String, sampleAxisFree: Bool) throws {
        try check(dtype: t.dtype, shape: t.shape, name: input.name, input: input, source: source, sampleAxisFree: sampleAxisFree)
    }

    static func check(dtype: DType, shape: [Int], name: String, input: ValueInfo, source: String, sampleAxisFree: Bool, what: String? = nil) throws {
        guard let type = input.tensorType else { return }
        let array = what ?? "array '\(name)'"
        if type.elementType != .undefined, dtype != type.elementType {
            throw EdgeError.badInput("\(array) is \(dtype), but model input '\(input.name)' is \(type.elementType)", file: source)
        }
        guard let dims = type.shape else { return }
        guard dims.count == shape.count else {
            throw EdgeError.badInput("\(array) has shape \(shape), but model input '\(input.name)' has rank \(dims.count) \(type)", file: source)
        }
        for (axis, dim) in dims.enumerated() where !(sampleAxisFree && axis == 0) {
            if let v = dim.value, v != shape[axis] {
                throw EdgeError.badInput("\(array) has shape \(shape), but model input '\(input.name)' needs dimension \(axis) = \(v) \(type)", file: source)
            }
        }
    }

    /// Feeds batch by batch, in order.
    public func batches() -> AnySequence<[String: Tensor]> {
        switch storage {
        case .batches(let b):
            return AnySequence(b)
        case .arrays(let arrays, let n):
            let size = batchSize
            return AnySequence((0..<batchCount).lazy.map { k in
                let lo = k * size, hi = min(n, lo + size)
                return arrays.mapValues { CalibrationDataSet.slice($0, lo, hi) }
            })
        case .streamed(let sources, let n):
            let (size, count, source) = (batchSize, batchCount, self.source)
            return AnySequence { () -> AnyIterator<[String: Tensor]> in
                // Each pass opens its own readers, so passes (and deflate streams) start afresh.
                var readers: [String: NumPyRowReader]?
                var k = 0
                return AnyIterator {
                    guard k < count else { return nil }
                    let lo = k * size, hi = min(n, lo + size)
                    k += 1
                    do {
                        if readers == nil { readers = try sources.mapValues { try NumPyRowReader($0) } }
                        return try readers!.mapValues { try $0.rows(lo, hi) }
                    } catch {
                        // The bytes were checked when the set was loaded; the file changed since.
                        CalibrationDataSet.report("stopped reading '\(source)' at sample \(lo): \(error)")
                        k = count
                        return nil
                    }
                }
            }
        case .batchFiles(let files):
            let source = self.source
            return AnySequence(files.lazy.compactMap { feed -> [String: Tensor]? in
                do {
                    return try feed.mapValues { try $0.readAll() }
                } catch {
                    CalibrationDataSet.report("skipped a batch of '\(source)': \(error)")
                    return nil
                }
            })
        }
    }

    static func report(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    /// The whole extra array sliced like the batches (e.g. labels per batch).
    public func slice(extra t: Tensor, batch k: Int) -> Tensor {
        let lo = k * batchSize
        return CalibrationDataSet.slice(t, lo, min(t.shape.first ?? 0, lo + batchSize))
    }

    /// Rows [lo, hi) along axis 0.
    static func slice(_ t: Tensor, _ lo: Int, _ hi: Int) -> Tensor {
        if lo == 0, hi == t.shape[0] { return t }
        let rowBytes = t.dtype.byteCount(elements: t.shape.dropFirst().reduce(1, *))
        var shape = t.shape
        shape[0] = hi - lo
        let storage = t.withUnsafeBytes { raw in
            OwnedStorage(copying: UnsafeRawBufferPointer(rebasing: raw[(lo * rowBytes)..<(hi * rowBytes)]))
        }
        return Tensor(dtype: t.dtype, shape: shape, storage: storage)
    }
}

/// Hands out value and node names unused so far: `base` itself if free, else `base__1`,
/// `base__2`, … (one counter for all bases, so names stay short and deterministic).
public struct NameAllocator: Sendable {
    private var used: Set<String>
    private var counter = 0

    public init(used: Set<String>) { self.used = used }

    /// A name not used so far, derived from `base`; it counts as used from now on.
    public mutating func fresh(_ base: String) -> String {
        var candidate = base
        while used.contains(candidate) {
            counter += 1
            candidate = "\(base)__\(counter)"
        }
        used.insert(candidate)
        return candidate
    }

    /// Marks `name` as used without handing it out.
    public mutating func reserve(_ name: String) { used.insert(name) }

    /// Marks every name in `names` as used.
    public mutating func reserve<S: Sequence>(contentsOf names: S) where S.Element == String { used.formUnion(names) }
}

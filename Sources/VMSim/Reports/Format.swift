/// Text helpers for printf-style layouts (`%-12s`, `%8lu`).
enum Pad {
    /// Left-justifies `s` in `width` columns (`%-Ns`); longer strings are kept whole.
    static func left(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
    /// Right-justifies `s` in `width` columns (`%Ns`); longer strings are kept whole.
    static func right(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
    static func right<T: BinaryInteger>(_ n: T, _ width: Int) -> String { Self.right(String(n), width) }
}

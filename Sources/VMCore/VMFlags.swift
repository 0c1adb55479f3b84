/// Flags of a virtual memory area (`vm_flags_t`, include/linux/mm.h), at the kernel's bit
/// positions so `/proc/PID/smaps` prints them in the kernel's order.
public struct VMFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static var read: VMFlags { VMFlags(rawValue: 1 << 0) }
    @inlinable public static var write: VMFlags { VMFlags(rawValue: 1 << 1) }
    @inlinable public static var exec: VMFlags { VMFlags(rawValue: 1 << 2) }
    @inlinable public static var shared: VMFlags { VMFlags(rawValue: 1 << 3) }
    @inlinable public static var mayRead: VMFlags { VMFlags(rawValue: 1 << 4) }
    @inlinable public static var mayWrite: VMFlags { VMFlags(rawValue: 1 << 5) }
    @inlinable public static var mayExec: VMFlags { VMFlags(rawValue: 1 << 6) }
    @inlinable public static var mayShare: VMFlags { VMFlags(rawValue: 1 << 7) }
    /// `VM_GROWSDOWN`: a stack (x86's `VM_STACK`).
    @inlinable public static var growsDown: VMFlags { VMFlags(rawValue: 1 << 8) }
    @inlinable public static var pfnMap: VMFlags { VMFlags(rawValue: 1 << 10) }
    @inlinable public static var locked: VMFlags { VMFlags(rawValue: 1 << 13) }
    @inlinable public static var io: VMFlags { VMFlags(rawValue: 1 << 14) }
    /// `VM_SEQ_READ` (`MADV_SEQUENTIAL`) and `VM_RAND_READ` (`MADV_RANDOM`).
    @inlinable public static var seqRead: VMFlags { VMFlags(rawValue: 1 << 15) }
    @inlinable public static var randRead: VMFlags { VMFlags(rawValue: 1 << 16) }
    /// `VM_DONTCOPY` (`MADV_DONTFORK`): not inherited by a child.
    @inlinable public static var dontCopy: VMFlags { VMFlags(rawValue: 1 << 17) }
    @inlinable public static var dontExpand: VMFlags { VMFlags(rawValue: 1 << 18) }
    @inlinable public static var lockOnFault: VMFlags { VMFlags(rawValue: 1 << 19) }
    /// `VM_ACCOUNT`: counted in `Committed_AS`.
    @inlinable public static var account: VMFlags { VMFlags(rawValue: 1 << 20) }
    @inlinable public static var noReserve: VMFlags { VMFlags(rawValue: 1 << 21) }
    /// `VM_WIPEONFORK`: the child gets the area empty.
    @inlinable public static var wipeOnFork: VMFlags { VMFlags(rawValue: 1 << 25) }
    @inlinable public static var dontDump: VMFlags { VMFlags(rawValue: 1 << 26) }
    /// `VM_SOFTDIRTY`: set on every new area (distribution kernels build with soft-dirty tracking).
    @inlinable public static var softDirty: VMFlags { VMFlags(rawValue: 1 << 27) }
    /// `VM_HUGEPAGE`: MADV_HUGEPAGE (THP wanted in `madvise` mode).
    @inlinable public static var hugepage: VMFlags { VMFlags(rawValue: 1 << 29) }
    /// `VM_NOHUGEPAGE`: MADV_NOHUGEPAGE (never THP).
    @inlinable public static var noHugepage: VMFlags { VMFlags(rawValue: 1 << 30) }

    /// `VM_STACK_FLAGS` on x86: data defaults plus grows-down and accounting.
    public static let stackFlags: VMFlags = [
        .read, .write, .mayRead, .mayWrite, .mayExec, .growsDown, .account,
    ]
    /// `VM_DATA_DEFAULT_FLAGS` on x86.
    public static let dataDefaultFlags: VMFlags = [.read, .write, .mayRead, .mayWrite, .mayExec]
    /// Flags that stop merging and splitting-by-flags (`VM_SPECIAL`).
    public static let special: VMFlags = [.io, .dontExpand, .pfnMap]

    /// The two-letter names of `show_smap_vma_flags()`, by bit.
    static let mnemonics: [(Int, String)] = [
        (0, "rd"), (1, "wr"), (2, "ex"), (3, "sh"), (4, "mr"), (5, "mw"), (6, "me"), (7, "ms"), (8, "gd"),
        (10, "pf"),
        (13, "lo"), (14, "io"), (15, "sr"), (16, "rr"), (17, "dc"), (18, "de"), (19, "lf"), (20, "ac"),
        (21, "nr"),
        (25, "wf"), (26, "dd"), (27, "sd"), (29, "hg"), (30, "nh"),
    ]

    /// The `VmFlags:` line's contents: mnemonics in bit order, each followed by a space.
    public var smapsMnemonics: String {
        VMFlags.mnemonics.filter { self.rawValue & (1 << UInt64($0.0)) != 0 }.map { $0.1 + " " }.joined()
    }

    /// `rwxp` / `r-xs` as `/proc/PID/maps` prints them (`s` from `VM_MAYSHARE`).
    public var permissions: String {
        (self.contains(.read) ? "r" : "-") + (self.contains(.write) ? "w" : "-")
            + (self.contains(.exec) ? "x" : "-")
            + (self.contains(.mayShare) ? "s" : "p")
    }

    public var description: String { self.permissions + " " + self.smapsMnemonics }

    /// `is_cow_mapping()`: private and potentially writable.
    public var isCOWMapping: Bool { !self.contains(.shared) && self.contains(.mayWrite) }
    /// `vma_is_accessible()`.
    public var isAccessible: Bool { !self.isDisjoint(with: [.read, .write, .exec]) }
}

/// Protection bits as `mmap(2)`/`mprotect(2)` take them.
public struct Protection: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = Protection(rawValue: 1)
    public static let write = Protection(rawValue: 2)
    public static let exec = Protection(rawValue: 4)
    public static let none: Protection = []

    /// Parses `r`, `rw`, `rx`, `rwx`, `none`, `---`, `r-x` …; nil for anything else.
    public init?(text: String) {
        if text == "none" || text == "---" {
            self = []
            return
        }
        var p: Protection = []
        for c in text {
            switch c {
            case "r": p.insert(.read)
            case "w": p.insert(.write)
            case "x": p.insert(.exec)
            case "-": continue
            default: return nil
            }
        }
        guard !text.isEmpty else { return nil }
        self = p
    }

    /// `calc_vm_prot_bits()`.
    public var vmFlags: VMFlags {
        var f: VMFlags = []
        if self.contains(.read) { f.insert(.read) }
        if self.contains(.write) { f.insert(.write) }
        if self.contains(.exec) { f.insert(.exec) }
        return f
    }

    public var description: String {
        (self.contains(.read) ? "r" : "-") + (self.contains(.write) ? "w" : "-")
            + (self.contains(.exec) ? "x" : "-")
    }
}

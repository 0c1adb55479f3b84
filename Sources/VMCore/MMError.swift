import VMPaging
import VMPhys
import VMTypes

/// Why a system call failed, with its errno name.
public enum MMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// ENOMEM: no room, too many mappings, a hole in the range, over a limit.
    case noMemory(String)
    /// EINVAL: bad alignment, length or advice.
    case invalid(String)
    /// EACCES: protection beyond what the mapping may have.
    case accessDenied(String)
    /// EEXIST: `MAP_FIXED_NOREPLACE` over an existing mapping.
    case exists(String)
    /// EPERM: below `mmap_min_addr`.
    case notPermitted(String)
    /// ENOENT: no such file or directory.
    case noEntry(String)
    /// EBADF: not an open file descriptor (or not open for the access).
    case badFile(String)
    /// EISDIR / ENOTDIR: a directory where a file was expected, or the reverse.
    case isDirectory(String)
    case notDirectory(String)
    /// ENOSPC: the disk or the inode table is full.
    case noSpace(String)
    /// EFBIG: beyond the largest file size.
    case tooBig(String)
    /// EIDRM: a SysV segment marked for removal.
    case removed(String)
    /// ETXTBSY: writing to, resizing or mapping for writing an active swap file.
    case textBusy(String)
    /// EFAULT: a fault the call made on the caller's behalf failed (SIGBUS/SIGSEGV).
    case fault(String)

    public var errno: String {
        switch self {
        case .noMemory: return "ENOMEM"
        case .invalid: return "EINVAL"
        case .accessDenied: return "EACCES"
        case .exists: return "EEXIST"
        case .notPermitted: return "EPERM"
        case .noEntry: return "ENOENT"
        case .badFile: return "EBADF"
        case .isDirectory: return "EISDIR"
        case .notDirectory: return "ENOTDIR"
        case .noSpace: return "ENOSPC"
        case .tooBig: return "EFBIG"
        case .removed: return "EIDRM"
        case .textBusy: return "ETXTBSY"
        case .fault: return "EFAULT"
        }
    }
    public var message: String {
        switch self {
        case .noMemory(let m), .invalid(let m), .accessDenied(let m), .exists(let m), .notPermitted(let m),
            .noEntry(let m), .badFile(let m), .isDirectory(let m), .notDirectory(let m), .noSpace(let m),
            .tooBig(let m), .removed(let m), .textBusy(let m), .fault(let m):
            return m
        }
    }
    public var description: String { "\(self.errno): \(self.message)" }
}

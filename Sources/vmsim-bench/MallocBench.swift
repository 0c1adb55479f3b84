import Foundation
import VMCore
import VMLibc
import VMSim

extension Bench {
    /// The C library's allocator: malloc/free pairs on a warm heap (no kernel), and the Python
    /// capture's 596,855 calls replayed over a bare address space and inside a process of the
    /// simulated kernel (every brk, mmap and header store through the kernel's MMU and faults).
    func mallocBench() throws {
        let pairs = self.n(10_000_000)
        for allocator in ["glibc", "freelist:first", "freelist:best"] {
            let count = allocator == "glibc" ? pairs : self.n(1_000_000)
            let live = allocator == "glibc" ? 1000 : 200
            print(
                try measureThrowing("malloc: \(allocator) pairs, warm heap", unit: "pairs") {
                    try MallocBenchmark.mallocFreePairs(count, live: live, allocator: allocator).operations
                }.line)
        }
        let path = "examples/traces/python-json.malloc.gz"
        guard let bytes = gunzip(path) else {
            print("malloc: \(path) not found or not readable with gzip -dc (run from the repository root)")
            return
        }
        print(
            try measureThrowing("malloc: replay python-json, bare", unit: "calls") {
                try replayMallocTrace(AllocationTraceReader(bytes: bytes, name: path)).calls
            }.line)
        print(
            try measureThrowing("malloc: replay python-json, in kernel", unit: "calls") {
                let kernel = boot(256 << 20)
                let task = try kernel.spawn(name: "python")
                let system = KernelMallocSystem(kernel: kernel, task: task)
                return try replayMallocTrace(AllocationTraceReader(bytes: bytes, name: path), system: system)
                    .calls
            }.line)
    }
}

/// `measure` for a body that throws (a failure ends the benchmark run with its error).
func measureThrowing(_ name: String, unit: String, _ body: () throws -> Int) throws -> Measurement {
    var failure: (any Error)?
    let m = measure(name, unit: unit) {
        do { return try body() } catch {
            failure = error
            return 0
        }
    }
    if let failure { throw failure }
    return m
}

/// The decompressed bytes of a gzip file (through `gzip -dc`), or nil.
func gunzip(_ path: String) -> [UInt8]? {
    guard FileManager.default.isReadableFile(atPath: path) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "exec gzip -dc \"$0\"", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? [UInt8](data) : nil
}

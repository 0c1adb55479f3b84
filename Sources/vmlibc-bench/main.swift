// Benchmarks of VMLibc's allocator models: swift run -c release vmlibc-bench [TRACE]
// (TRACE: an uncompressed allocation trace, e.g. examples/traces/python-json.malloc.gz unzipped).
import VMLibc

#if canImport(Glibc)
    import Glibc
#endif

let replayOnly = getenv("VMLIBC_BENCH_REPLAY_ONLY") != nil
if !replayOnly {
    print("glibc malloc/free pairs, warm heap: \(try MallocBenchmark.mallocFreePairs())")
}
for policy in ["freelist:first", "freelist:best"] where !replayOnly {
    print(
        "\(policy) malloc/free pairs, warm heap: \(try MallocBenchmark.mallocFreePairs(1_000_000, live: 200, allocator: policy))"
    )
}
if CommandLine.arguments.count > 1 {
    let path = CommandLine.arguments[1]
    var bytes: [UInt8] = []
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { fatalError("cannot open \(path)") }
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    close(fd)
    print("trace replay (parse + glibc model + agreement): \(try MallocBenchmark.replay(bytes, name: path))")
}

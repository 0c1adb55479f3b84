import Foundation
import Testing

@testable import TraceInput

/// Everything `file` yields, read `chunk` bytes at a time.
func readAll(_ file: InputFile, chunk: Int = 1000) throws -> [UInt8] {
    var out: [UInt8] = []
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
    defer { buffer.deallocate() }
    while true {
        let n = try file.read(into: buffer, count: chunk)
        if n == 0 { break }
        out += UnsafeBufferPointer(start: buffer, count: n)
    }
    return out
}

/// Deterministic bytes that compress somewhat, like a trace.
func sampleText(_ lines: Int) -> [UInt8] {
    var s = ""
    var x: UInt64 = 7
    for _ in 0..<lines {
        x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        s += " L \(String(x >> 40, radix: 16)),8\n"
    }
    return Array(s.utf8)
}

func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct InputFileTests {
    /// Plain, gzip and zstd bytes read back the same, in small and large reads.
    @Test(arguments: [1, 7, 4096, 1 << 20])
    func compressedBytesReadBackTheSame(_ chunk: Int) throws {
        let plain = sampleText(20_000)
        let gz = try #require(gzipCompress(plain))
        let zst = try #require(zstdCompress(plain))
        #expect(gz.count < plain.count && zst.count < plain.count)
        for (bytes, kind) in [(plain, Compression.none), (gz, .gzip), (zst, .zstd)] {
            let file = try InputFile(name: "t", bytes: bytes)
            #expect(file.compression == kind)
            #expect(try readAll(file, chunk: chunk) == plain)
            #expect(file.position == InputPosition(consumed: Int64(bytes.count), size: Int64(bytes.count)))
        }
    }

    /// A reader that stops early — a replayed process killed a few chunks in — lets the
    /// decompressing thread stop and the pipeline go, whatever chunks were filled and not read
    /// (libdispatch traps when a semaphore is freed below the value it was made with).
    @Test func stoppingEarlyShutsThePipelineDown() throws {
        let plain = sampleText(400_000)
        for bytes in [try #require(gzipCompress(plain)), try #require(zstdCompress(plain))] {
            for read in [0, 1, 1 << 20, 3 << 20] {
                let file = try InputFile(name: "t", bytes: bytes)
                let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
                defer { buffer.deallocate() }
                var got = 0
                while got < read {
                    let n = try file.read(into: buffer, count: 1 << 16)
                    if n == 0 { break }
                    got += n
                }
                // Let the producer run ahead and fill every slot before the file goes.
                usleep(20_000)
                #expect(got >= min(read, plain.count))
            }
        }
    }

    /// A file on disk streams through the 256 KiB buffer and reports its position against its size.
    @Test func filesStreamAndReportTheirPosition() throws {
        let plain = sampleText(200_000)
        let path = NSTemporaryDirectory() + "vmsim-input-\(getpid()).zst"
        defer { unlink(path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(try #require(zstdCompress(plain))))
        let file = try InputFile(path: path)
        #expect(file.compression == .zstd)
        let size = try #require(file.position.size)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
        defer { buffer.deallocate() }
        var got: [UInt8] = []
        var last: Int64 = 0
        while true {
            let n = try file.read(into: buffer, count: 1 << 16)
            if n == 0 { break }
            got += UnsafeBufferPointer(start: buffer, count: n)
            #expect(file.position.consumed >= last && file.position.consumed <= size)
            last = file.position.consumed
        }
        #expect(got == plain)
        #expect(last == size)
    }

    /// gzip members one after another (`cat a.gz b.gz`), and zstd frames, read as one stream.
    @Test func concatenatedMembersAndFramesAreOneStream() throws {
        let a = sampleText(100)
        let b = Array("tail\n".utf8)
        let gz = try #require(gzipCompress(a)) + (try #require(gzipCompress(b)))
        #expect(try readAll(InputFile(name: "t", bytes: gz)) == a + b)
        let zst = try #require(zstdCompress(a)) + (try #require(zstdCompress(b)))
        #expect(try readAll(InputFile(name: "t", bytes: zst)) == a + b)
    }

    /// Truncated, corrupt and trailing data are errors naming the file and the byte.
    @Test func damagedStreamsAreErrors() throws {
        let plain = sampleText(5000)
        let gz = try #require(gzipCompress(plain))
        let zst = try #require(zstdCompress(plain))
        let cutGz = Array(gz.prefix(gz.count / 2))
        #expect(
            errorMessage { _ = try readAll(InputFile(name: "t.gz", bytes: cutGz)) }
                == "t.gz: the gzip stream is truncated (it ends at byte \(cutGz.count))")
        let cutZst = Array(zst.prefix(zst.count / 2))
        #expect(
            errorMessage { _ = try readAll(InputFile(name: "t.zst", bytes: cutZst)) }
                == "t.zst: the zstd stream is truncated (it ends at byte \(cutZst.count))")
        var corrupt = gz
        for i in 20..<60 { corrupt[i] ^= 0x5A }
        #expect(
            errorMessage { _ = try readAll(InputFile(name: "t.gz", bytes: corrupt)) }?
                .hasPrefix("t.gz: corrupt gzip data near byte") == true)
        let trailing = gz + Array("junk".utf8)
        #expect(
            errorMessage { _ = try readAll(InputFile(name: "t.gz", bytes: trailing)) }
                == "t.gz: trailing data after the gzip stream at byte \(gz.count) (not another gzip member)")
        var badZst = zst
        for i in 8..<40 { badZst[i] ^= 0xFF }
        #expect(
            errorMessage { _ = try readAll(InputFile(name: "t.zst", bytes: badZst)) }?
                .hasPrefix("t.zst: corrupt zstd data") == true)
    }

    /// Formats vmsim does not decompress are named, with the command that does.
    @Test(arguments: [
        ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0, 0], "xz-compressed data"),
        (Array("BZh91AY&SY".utf8), "bzip2-compressed data"),
        ([0x04, 0x22, 0x4D, 0x18, 0, 0, 0, 0], "lz4-compressed data"),
        ([0x1F, 0x8B, 0x07, 0, 0, 0, 0, 0], "gzip header with compression method 7"),
    ])
    func unknownCompressionIsNamed(_ bytes: [UInt8], _ prefix: String) {
        let message = errorMessage { _ = try InputFile(name: "t", bytes: bytes) }
        #expect(message?.hasPrefix("t: " + prefix) == true, "\(message ?? "no error")")
    }

    /// The magic number decides, not the name: a plain file called .gz is read as it is.
    @Test func theNameDoesNotDecide() throws {
        let plain = sampleText(10)
        let file = try InputFile(name: "plain.gz", bytes: plain)
        #expect(file.compression == .none)
        #expect(try readAll(file) == plain)
        #expect(try InputFile(name: "x", bytes: []).compression == .none)
    }
}

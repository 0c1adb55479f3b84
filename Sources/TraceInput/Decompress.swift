import CZlib
import CZstd

/// gzip decompression through zlib's `inflate()`: every member of the file in turn (gzip(1)
/// does the same for `cat a.gz b.gz`); anything after the last member that is not another
/// member is an error, as gzip reports "trailing garbage".
final class GzipDecoder {
    /// Heap-allocated: zlib keeps a pointer back to the stream and refuses one that moved.
    let stream: UnsafeMutablePointer<z_stream>
    var finished = false
    /// The current member has been fully decoded (its trailer checked).
    var memberEnded = false

    init(file: String) throws(InputError) {
        self.stream = .allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        // 16 + 15: a gzip wrapper (header and CRC-32 trailer checked), a 32 KiB window.
        let rc = inflateInit2_(self.stream, 16 + 15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        if rc != Z_OK {
            self.stream.deallocate()
            throw InputError(file: file, message: "cannot start zlib (inflateInit2: \(rc))")
        }
    }

    deinit {
        inflateEnd(self.stream)
        self.stream.deallocate()
    }

    func read(_ input: FileBytes, into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(InputError)
        -> Int
    {
        if self.finished { return 0 }
        let z = self.stream
        while true {
            if input.rawStart == input.rawEnd && !input.rawEOF { try input.readRaw() }
            let available = input.rawEnd - input.rawStart
            if self.memberEnded {
                // Another member, or the end.
                if available == 0 {
                    self.finished = true
                    return 0
                }
                if available < 2 && !input.rawEOF {
                    try input.readRaw()
                    continue
                }
                let p = input.raw + input.rawStart
                guard available >= 2 && p[0] == 0x1F && p[1] == 0x8B else {
                    throw InputError(
                        file: input.name,
                        message:
                            "trailing data after the gzip stream at byte \(input.position.consumed) (not another gzip member)"
                    )
                }
                inflateReset(z)
                self.memberEnded = false
            }
            z.pointee.next_in = input.raw + input.rawStart
            z.pointee.avail_in = UInt32(clamping: available)
            z.pointee.next_out = buffer
            let room = min(count, Int(UInt32.max))
            z.pointee.avail_out = UInt32(room)
            let rc = inflate(z, Z_NO_FLUSH)
            let used = available - Int(z.pointee.avail_in)
            input.rawStart += used
            let produced = room - Int(z.pointee.avail_out)
            switch rc {
            case Z_STREAM_END:
                self.memberEnded = true
                if produced > 0 { return produced }
            case Z_OK:
                if produced > 0 { return produced }
            case Z_BUF_ERROR:
                // No progress possible: more input is needed.
                if produced > 0 { return produced }
                if input.rawEOF && input.rawStart == input.rawEnd {
                    throw InputError(
                        file: input.name,
                        message: "the gzip stream is truncated (it ends at byte \(input.position.consumed))")
                }
            case Z_MEM_ERROR:
                throw InputError(file: input.name, message: "out of memory decompressing gzip")
            default:
                let reason = z.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw InputError(
                    file: input.name,
                    message: "corrupt gzip data near byte \(input.position.consumed): \(reason)")
            }
            if used == 0 && produced == 0 && input.rawEOF && input.rawStart == input.rawEnd
                && !self.memberEnded
            {
                throw InputError(
                    file: input.name,
                    message: "the gzip stream is truncated (it ends at byte \(input.position.consumed))")
            }
        }
    }
}

/// Zstandard decompression through libzstd's streaming API (`ZSTD_decompressStream()`):
/// frames one after another, skippable frames skipped; a frame that needs a window beyond
/// libzstd's default limit (128 MiB) is refused rather than allocated.
final class ZstdDecoder {
    let stream: OpaquePointer
    /// `ZSTD_decompressStream()`'s last hint: 0 when a frame has just ended.
    var hint = 1
    var finished = false

    init(file: String) throws(InputError) {
        guard let s = ZSTD_createDStream() else {
            throw InputError(file: file, message: "cannot start zstd (ZSTD_createDStream)")
        }
        self.stream = s
        ZSTD_initDStream(s)
    }

    deinit { ZSTD_freeDStream(self.stream) }

    func read(_ input: FileBytes, into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(InputError)
        -> Int
    {
        if self.finished { return 0 }
        while true {
            if input.rawStart == input.rawEnd && !input.rawEOF { try input.readRaw() }
            let available = input.rawEnd - input.rawStart
            if available == 0 && input.rawEOF {
                // A frame cut short leaves data inside libzstd: flush it, then the hint says.
                var out = ZSTD_outBuffer(dst: buffer, size: count, pos: 0)
                var inb = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
                if self.hint != 0 {
                    let rc = ZSTD_decompressStream(self.stream, &out, &inb)
                    if ZSTD_isError(rc) != 0 { throw self.failure(input, rc) }
                    self.hint = rc
                    if out.pos > 0 { return out.pos }
                    if rc != 0 {
                        throw InputError(
                            file: input.name,
                            message:
                                "the zstd stream is truncated (it ends at byte \(input.position.consumed))")
                    }
                }
                self.finished = true
                return 0
            }
            var inb = ZSTD_inBuffer(src: input.raw + input.rawStart, size: available, pos: 0)
            var out = ZSTD_outBuffer(dst: buffer, size: count, pos: 0)
            let rc = ZSTD_decompressStream(self.stream, &out, &inb)
            input.rawStart += inb.pos
            if ZSTD_isError(rc) != 0 { throw self.failure(input, rc) }
            self.hint = rc
            if out.pos > 0 { return out.pos }
        }
    }

    func failure(_ input: FileBytes, _ rc: Int) -> InputError {
        let reason = String(cString: ZSTD_getErrorName(rc))
        var message = "corrupt zstd data near byte \(input.position.consumed): \(reason)"
        if reason.contains("memory") || reason.contains("indow") {
            message += " (frames with windows beyond 128 MiB, zstd --long=28 and up, are not read)"
        }
        return InputError(file: input.name, message: message)
    }
}

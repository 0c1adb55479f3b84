import CZlib
import CZstd

/// Compresses `bytes` in memory into one gzip member (zlib's `deflate()` with a gzip wrapper,
/// level 6 as gzip(1)), or nil if zlib fails. For tests and small files: the whole output is
/// held in memory.
public func gzipCompress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
    let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    z.initialize(to: z_stream())
    defer { z.deallocate() }
    guard
        deflateInit2_(
            z, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
            == Z_OK
    else { return nil }
    defer { deflateEnd(z) }
    var out = [UInt8](repeating: 0, count: Int(deflateBound(z, UInt(bytes.count))) + 64)
    let rc = bytes.withUnsafeBufferPointer { input in
        out.withUnsafeMutableBufferPointer { output in
            z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            z.pointee.avail_in = UInt32(input.count)
            z.pointee.next_out = output.baseAddress
            z.pointee.avail_out = UInt32(output.count)
            return deflate(z, Z_FINISH)
        }
    }
    guard rc == Z_STREAM_END else { return nil }
    out.removeLast(Int(z.pointee.avail_out))
    return out
}

/// Compresses `bytes` in memory into one zstd frame (`ZSTD_compress()`), or nil if libzstd
/// fails. For tests and small files.
public func zstdCompress(_ bytes: [UInt8], level: Int32 = 3) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
    let n = bytes.withUnsafeBufferPointer { input in
        out.withUnsafeMutableBufferPointer { output in
            ZSTD_compress(output.baseAddress, output.count, input.baseAddress, input.count, level)
        }
    }
    guard ZSTD_isError(n) == 0 else { return nil }
    out.removeLast(out.count - n)
    return out
}

import PropertyBased
import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// What the test believes about one file: its size in pages and each page's word.
private struct ModelFile {
    var path: String
    var sizePages: UInt64
    var words: [UInt64: UInt64]
}

@Suite struct FilePropertyTests {
    /// Random `write(2)`/`read(2)`, shared-mapping writes and reads, `msync`, `fsync`, `sync`,
    /// `drop_caches`, `POSIX_FADV_DONTNEED`, truncation, remapping and the passing of time,
    /// across three processes and two files: every read — through a descriptor or a mapping,
    /// from the cache or back from disk after the page was dropped — returns the last word
    /// written to that page by anyone, and the kernel's books stay consistent.
    @Test func everyReadReturnsTheLastWriteWhateverPathItTook() async {
        await propertyCheck(count: 20, input: Gen.uint64(in: 0...UInt64.max).array(of: 30...160)) { ops in
            let k = bootKernel(memory: 64 << 20)
            let page: UInt64 = 4096
            let maxPages: UInt64 = 48
            guard (try? k.installFile("/p/a", size: 40 * page)) != nil,
                (try? k.installFile("/p/b", size: 24 * page, cached: true)) != nil
            else {
                Issue.record("setup failed")
                return
            }
            var files = [
                ModelFile(path: "/p/a", sizePages: 40, words: [:]),
                ModelFile(path: "/p/b", sizePages: 24, words: [:]),
            ]
            for f in files.indices {
                let inode = k.file(at: files[f].path)!.inode
                for i in 0..<files[f].sizePages {
                    files[f].words[i] = SimFile.initialContent(inode: inode, index: i)
                }
            }
            var tasks: [Task] = []
            var fds: [[Int]] = []
            var maps: [[UInt64]] = []
            for n in 0..<3 {
                guard let t = try? k.spawn(name: "q\(n)") else { return }
                var tf: [Int] = []
                var tm: [UInt64] = []
                for f in files {
                    let fd = try! k.open(t, f.path)
                    tf.append(fd)
                    tm.append(
                        try! k.mmap(
                            t,
                            MapRequest(
                                length: maxPages * page, protection: [.read, .write], shared: true,
                                backing: .file(fd: fd, offset: 0))))
                }
                tasks.append(t)
                fds.append(tf)
                maps.append(tm)
            }
            func expected(_ f: Int, _ i: UInt64) -> UInt64 { files[f].words[i] ?? 0 }
            for (step, op) in ops.enumerated() {
                let p = Int(op % 3)
                let f = Int((op >> 2) % 2)
                let r = op >> 8
                let t = tasks[p]
                let size = files[f].sizePages
                let index = size == 0 ? 0 : (r >> 5) % size
                let value = (op | 1) & 0xFFFF_FFFF_FFFF
                switch (op >> 3) % 16 {
                case 0, 1:
                    // write(2) of 1…4 pages at a page (may extend the file up to the mapping size).
                    let start = (r >> 5) % maxPages
                    let count = min(1 + (r % 4), maxPages - start)
                    #expect(
                        (try? k.write(
                            t, fd: fds[p][f], offset: start * page, length: count * page, value: value))
                            != nil)
                    for i in start..<(start + count) { files[f].words[i] = value }
                    if start + count > files[f].sizePages {
                        // Pages between the old end and the write are a hole: zero.
                        if start > files[f].sizePages {
                            for i in files[f].sizePages..<start { files[f].words[i] = 0 }
                        }
                        files[f].sizePages = start + count
                    }
                case 2 where size > 0:
                    // A partial write of one page: the page is read first if not cached.
                    #expect(
                        (try? k.write(t, fd: fds[p][f], offset: index * page + 100, length: 8, value: value))
                            != nil)
                    files[f].words[index] = value
                case 3...4 where size > 0:
                    let words = (try? k.read(t, fd: fds[p][f], offset: index * page, length: 1)) ?? []
                    #expect(
                        words == [expected(f, index)], "step \(step): read(2) \(files[f].path) page \(index)")
                case 5...6 where size > 0:
                    let got = k.userAccess(
                        t, address: maps[p][f] + index * page + 16, access: .write, value: value)
                    guard got.value == value else {
                        Issue.record(
                            "step \(step): store to \(files[f].path) page \(index) of \(size): \(got)")
                        return
                    }
                    files[f].words[index] = value
                case 7...8 where size > 0:
                    let result = k.userAccess(t, address: maps[p][f] + index * page, access: .read)
                    guard let got = result.value else {
                        Issue.record(
                            "step \(step): load from \(files[f].path) page \(index) of \(size): \(result)")
                        return
                    }
                    #expect(
                        got == expected(f, index), "step \(step): load from \(files[f].path) page \(index)")
                case 9:
                    #expect(
                        (try? k.msync(t, address: maps[p][f], length: maxPages * page, sync: true)) != nil)
                case 10:
                    #expect((try? k.fsync(t, fd: fds[p][f])) != nil)
                case 11:
                    if r % 2 == 0 { k.sync() }
                    #expect((try? k.dropCaches(r % 4 == 0 ? 3 : 1)) != nil)
                case 12:
                    k.advanceClock(by: (r % 40_000) * 1_000_000)
                case 13:
                    #expect(
                        (try? k.fadvise(
                            t, fd: fds[p][f], offset: index * page, length: 8 * page, advice: .dontneed))
                            != nil)
                case 14:
                    let newSize = r % (maxPages + 1)
                    #expect((try? k.truncate(files[f].path, size: newSize * page)) != nil)
                    if newSize < files[f].sizePages {
                        for i in newSize..<files[f].sizePages { files[f].words[i] = nil }
                    } else {
                        for i in files[f].sizePages..<newSize { files[f].words[i] = 0 }
                    }
                    files[f].sizePages = newSize
                default:
                    // Remap: the old mapping goes, a new one of the same file replaces it.
                    #expect((try? k.munmap(t, address: maps[p][f], length: maxPages * page)) != nil)
                    maps[p][f] =
                        (try? k.mmap(
                            t,
                            MapRequest(
                                length: maxPages * page, protection: [.read, .write], shared: true,
                                backing: .file(fd: fds[p][f], offset: 0)))) ?? 0
                    #expect(maps[p][f] != 0)
                }
                let problems = k.checkInvariants(deep: step % 16 == 0)
                #expect(problems.isEmpty, "step \(step): \(problems.prefix(4))")
                if !problems.isEmpty { return }
            }
            // Everything written reaches the disk and comes back from it.
            k.sync()
            #expect((try? k.dropCaches(3)) != nil)
            for f in files.indices {
                for i in 0..<files[f].sizePages {
                    let words = (try? k.read(tasks[0], fd: fds[0][f], offset: i * page, length: 1)) ?? []
                    #expect(words == [expected(f, i)], "after sync and drop: \(files[f].path) page \(i)")
                    let mapped = k.userAccess(tasks[1], address: maps[1][f] + i * page, access: .read).value
                    #expect(
                        mapped == expected(f, i), "after sync and drop, mapped: \(files[f].path) page \(i)")
                }
            }
            for t in tasks { k.exitTask(t, reason: .exited(code: 0)) }
            #expect(k.checkInvariants().isEmpty)
        }
    }
}

import Foundation
import Testing

#if os(Linux)
    import Glibc

    /// A pseudo-terminal pair from `/dev/ptmx` (Linux's devpts; `posix_openpt` and `openpty` are
    /// not in Swift's Glibc module): the master end the test types into and reads from, the path
    /// of the slave end the shell gets as its terminal.
    struct PseudoTerminal {
        let master: Int32
        let slavePath: String

        /// `TIOCSPTLCK` and `TIOCGPTN` (asm-generic/ioctls.h): unlock the slave, get its number.
        static let unlockRequest: UInt = 0x4004_5431
        static let numberRequest: UInt = 0x8004_5430

        init() throws {
            self.master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            guard self.master >= 0 else { throw POSIXError(.ENXIO) }
            var unlock: Int32 = 0
            var number: UInt32 = 0
            guard ioctl(self.master, Self.unlockRequest, &unlock) == 0,
                ioctl(self.master, Self.numberRequest, &number) == 0
            else { throw POSIXError(.ENOTTY) }
            var size = winsize(ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
            _ = ioctl(self.master, UInt(TIOCSWINSZ), &size)
            self.slavePath = "/dev/pts/\(number)"
        }

        func type(_ text: String) {
            var bytes = Array(text.utf8)
            _ = write(self.master, &bytes, bytes.count)
        }
    }

    /// What the shell printed so far, read from the master end by a background thread.
    final class TerminalScreen: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        private(set) var closed = false

        func start(_ fd: Int32) {
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = read(fd, &buffer, buffer.count)
                    // EIO once the shell has exited and the slave end is closed.
                    if n <= 0 { break }
                    self.lock.withLock { self.bytes += buffer[0..<n] }
                }
                self.lock.withLock { self.closed = true }
            }
        }

        var text: String { self.lock.withLock { String(decoding: self.bytes, as: UTF8.self) } }
        var isClosed: Bool { self.lock.withLock { self.closed } }

        /// Waits until the screen shows `count` prompts (or a minute passes, a hang).
        @discardableResult
        func waitForPrompts(_ count: Int) -> Bool {
            for _ in 0..<6000 {
                if self.text.components(separatedBy: "vmsim> ").count - 1 >= count { return true }
                usleep(10_000)
            }
            return false
        }
    }

    @Suite struct ShellTerminalTests {
        /// On a terminal the shell reads lines through libedit: a line edited with the left
        /// arrow runs as edited, the up arrow recalls the line before, `load FILE` runs a
        /// scenario and the session goes on, and the history is saved to `$VMSIM_HISTORY`.
        @Test func lineEditingHistoryAndLoadOnAPseudoTerminal() throws {
            let dir = temporaryDirectory()
            let scenario = dir.appendingPathComponent("load.vmsim").path
            try "spawn a\na: mmap m 64KiB\na: write m\nexpect a.minflt == 17\n".write(
                toFile: scenario, atomically: true, encoding: .utf8)
            let historyFile = dir.appendingPathComponent("history").path
            let pty = try PseudoTerminal()
            defer { close(pty.master) }
            let slave = try #require(FileHandle(forUpdatingAtPath: pty.slavePath))
            let process = Process()
            process.executableURL = vmsimExecutable
            process.arguments = ["shell"]
            process.currentDirectoryURL = repositoryRoot
            process.environment = [
                "TERM": "xterm", "HOME": dir.path, "VMSIM_HISTORY": historyFile, "PATH": "/usr/bin:/bin",
            ]
            process.standardInput = slave
            process.standardOutput = slave
            process.standardError = slave
            let screen = TerminalScreen()
            screen.start(pty.master)
            try process.run()
            try slave.close()

            #expect(screen.waitForPrompts(1))
            pty.type("load \(scenario)\r")
            #expect(screen.waitForPrompts(2))
            // "histoy", left arrow, "r": the line becomes "history".
            pty.type("histoy\u{1B}[Dr\r")
            #expect(screen.waitForPrompts(3))
            // The up arrow recalls "history".
            pty.type("\u{1B}[A\r")
            #expect(screen.waitForPrompts(4))
            pty.type("quit\r")
            process.waitUntilExit()
            for _ in 0..<6000 where !screen.isClosed { usleep(10_000) }

            let text = screen.text
            #expect(process.terminationStatus == 0)
            #expect(text.contains("vmsim shell — type 'help'"))
            // The loaded scenario ran (its mmap and write narrated), then the session went on.
            #expect(text.contains("→ 16 minor faults"))
            // `history` listed the four loaded lines, twice: typed once, recalled once.
            #expect(text.components(separatedBy: "   1  spawn a").count - 1 == 2)
            #expect(text.components(separatedBy: "   4  expect a.minflt == 17").count - 1 == 2)
            #expect(!text.contains("unknown command"))
            // libedit's file format: a magic first line, then each line with its spaces as \040.
            let saved = try String(contentsOfFile: historyFile, encoding: .utf8)
            #expect(saved.contains("load\\040\(scenario)") && saved.contains("\nhistory\n"), "\(saved)")
        }

        /// From a pipe there is no prompt and no editing: the lines run as read.
        @Test func plainInputFromAPipe() throws {
            let process = Process()
            process.executableURL = vmsimExecutable
            process.arguments = ["shell"]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data("spawn a\na: mmap m 64KiB\na: write m\nhistory\n".utf8))
            try input.fileHandleForWriting.close()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(!text.contains("vmsim> "))
            #expect(text.contains("   3  a: write m"))
        }
    }
#endif

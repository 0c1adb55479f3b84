import Dispatch
import Foundation
import VMServe
import VMTypes

/// `vmsim-bench serve`: the web visualiser over real HTTP on loopback — bytes of the first page
/// load, time to reach each step of the demo (in a shuffled order, so most jumps are replays),
/// and the server's resident memory with 20 demo sessions open.
extension Bench {
    func serveBench() throws {
        final class Box: @unchecked Sendable { var error: (any Error)? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await Self.serveSuite() } catch { box.error = error }
            done.signal()
        }
        done.wait()
        if let error = box.error { throw error }
    }

    struct BenchFailure: Error, CustomStringConvertible { var description: String }

    static func serveSuite() async throws {
        let store = SessionStore()
        let portBox = PortBox()
        let server = Task {
            try await VisualiserServer.run(host: "127.0.0.1", port: 0, store: store) { portBox.set($0) }
        }
        defer { server.cancel() }
        let port = try await portBox.wait()
        func get(_ path: String) async throws -> (Int, Data) {
            try LoopbackHTTP.request(port: port, method: "GET", path: path, body: nil)
        }
        func post(_ path: String, _ json: String) async throws -> Data {
            let (status, data) = try LoopbackHTTP.request(
                port: port, method: "POST", path: path, body: Data(json.utf8))
            guard status == 201 else { throw BenchFailure(description: "POST \(path): \(status)") }
            return data
        }
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        let clock = ContinuousClock()

        // First page load: the three assets.
        var assetBytes = 0
        for path in ["/", "/app.js", "/app.css"] { assetBytes += try await get(path).1.count }
        let examples = try await get("/api/examples").1.count
        var loadTime = Duration.zero
        var load = Data()
        loadTime = try await clock.measure {
            load = try await post("/api/sessions", "{\"example\":\"demo\"}")
        }
        let object = try JSONSerialization.jsonObject(with: load) as? [String: Any]
        guard let id = object?["session"] as? String, let steps = (object?["steps"] as? [Any])?.count else {
            throw BenchFailure(description: "no session")
        }
        let timeline = try await get("/api/sessions/\(id)/timeline").1.count
        let first = try await get("/api/sessions/\(id)/steps/0").1.count
        print(
            "serve: first page load: assets \(assetBytes) bytes (HTML+JS+CSS); with the API data the page "
                + "fetches at start (examples, session, timeline, step 0) \(assetBytes + examples + load.count + timeline + first) bytes"
        )
        print(
            String(
                format: "serve: load the demo (parse + one full run, %d steps): %.0f ms", steps,
                seconds(loadTime) * 1e3))

        // Every step, forward one at a time, then in a shuffled order, then backward.
        func timeSteps(_ order: [Int]) async throws -> [Double] {
            var times: [Double] = []
            for step in order {
                var status = 0
                let t = try await clock.measure {
                    status = try await get("/api/sessions/\(id)/steps/\(step)").0
                }
                guard status == 200 else { throw BenchFailure(description: "step \(step): \(status)") }
                times.append(seconds(t) * 1e3)
            }
            return times
        }
        func report(_ name: String, _ times: [Double]) {
            let sorted = times.sorted()
            let median = sorted[sorted.count / 2]
            let p90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
            print(
                String(
                    format:
                        "serve: %@: median %.1f ms, p90 %.1f ms, max %.1f ms over %d requests; %d over 100 ms",
                    name, median, p90, sorted.last ?? 0, times.count, times.filter { $0 > 100 }.count))
        }
        report("step forward 0…\(steps)", try await timeSteps(Array(0...steps)))
        var rng = SeededGenerator(seed: 14)
        var shuffled = Array(0...steps)
        for i in stride(from: shuffled.count - 1, to: 0, by: -1) {
            shuffled.swapAt(i, Int(rng.below(UInt64(i + 1))))
        }
        report("jump to every step in a shuffled order", try await timeSteps(shuffled))
        report("step back \(steps)…0", try await timeSteps(Array((0...steps).reversed())))

        // 20 open sessions of the demo, each stepped to the end and back to the middle.
        for _ in 0..<19 {
            let data = try await post("/api/sessions", "{\"example\":\"demo\"}")
            let o = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let sid = o?["session"] as? String ?? ""
            _ = try await get("/api/sessions/\(sid)/steps/\(steps)")
            _ = try await get("/api/sessions/\(sid)/steps/\(steps / 2)")
        }
        print(
            "serve: resident memory with \(store.count) open demo sessions (\(store.machineCount) booted machines): \(Self.residentMiB()) MiB"
        )
    }

    /// VmRSS of this process, in MiB.
    static func residentMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return -1
        }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb / 1024
        }
        return -1
    }
}

/// The port the server bound, handed from its start-up callback to the benchmark.
final class PortBox: @unchecked Sendable {
    let lock = NSLock()
    var port: Int?
    func set(_ port: Int) { self.lock.withLock { self.port = port } }
    func wait() async throws -> Int {
        for _ in 0..<600 {
            if let port = self.lock.withLock({ self.port }) { return port }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Bench.BenchFailure(description: "the server did not start")
    }
}

/// One HTTP/1.1 request over a loopback TCP socket (`Connection: close`, so the answer ends at
/// EOF): enough for the benchmark, with no HTTP client library to build.
enum LoopbackHTTP {
    static func request(port: Int, method: String, path: String, body: Data?) throws -> (Int, Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Bench.BenchFailure(description: "socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Bench.BenchFailure(description: "connect: \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        var out = Data((head + "\r\n").utf8)
        if let body { out += body }
        try out.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, 0)
                guard n > 0 else { throw Bench.BenchFailure(description: "send: \(errno)") }
                sent += n
            }
        }
        var answer = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            answer.append(contentsOf: buffer[0..<n])
        }
        guard let split = answer.range(of: Data("\r\n\r\n".utf8)) else {
            throw Bench.BenchFailure(description: "\(method) \(path): no HTTP answer")
        }
        let headText = String(decoding: answer[..<split.lowerBound], as: UTF8.self)
        let status = Int(headText.split(separator: " ").dropFirst().first ?? "") ?? 0
        var payload = Data(answer[split.upperBound...])
        if headText.lowercased().contains("transfer-encoding: chunked") { payload = Self.dechunk(payload) }
        return (status, payload)
    }

    static func dechunk(_ data: Data) -> Data {
        var out = Data()
        var i = data.startIndex
        while let lineEnd = data[i...].range(of: Data("\r\n".utf8)) {
            let size = Int(String(decoding: data[i..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd.upperBound
            out += data[start..<min(start + size, data.endIndex)]
            i = min(start + size + 2, data.endIndex)
        }
        return out
    }
}

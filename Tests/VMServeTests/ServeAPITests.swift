import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VMSim

@testable import VMServe

/// The web visualiser's JSON API through Hummingbird's router tester (no socket): every
/// route, the error paths and the limits on what a posted scenario may ask for.
@Suite struct ServeAPITests {
    static func app(_ limits: ServeLimits = ServeLimits()) -> (
        Application<RouterResponder<BasicRequestContext>>, SessionStore
    ) {
        let store = SessionStore(limits: limits)
        return (Application(router: VisualiserServer.router(store: store)), store)
    }

    static func object(_ r: TestResponse) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))
        return try #require(value as? [String: Any])
    }

    static func post(_ client: some TestClientProtocol, _ body: String, uri: String = "/api/sessions")
        async throws
        -> TestResponse
    {
        try await client.execute(
            uri: uri, method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: body))
    }

    static func text(_ scenario: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: ["text": scenario])
        return String(decoding: data, as: UTF8.self)
    }

    static let small = """
        machine memory=64MiB swap=64MiB
        spawn web
        web: mmap buf 64KiB anon private rw
        web: write buf value=7
        web: fork child
        child: read buf
        """

    /// Loads `small` and returns the session id.
    static func load(_ client: some TestClientProtocol, _ scenario: String = small) async throws -> String {
        let r = try await post(client, text(scenario))
        #expect(r.status == .created)
        return try #require(try object(r)["session"] as? String)
    }

    @Test func thePageAndItsAssetsAreServedFromTheBinary() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            for (path, type, marker) in [
                ("/", "text/html", "<script src=\"/app.js\">"),
                ("/app.js", "text/javascript", "decodeFrames"),
                ("/app.css", "text/css", "#frames"),
            ] {
                let r = try await client.execute(uri: path, method: .get)
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix(type) == true)
                #expect(String(buffer: r.body).contains(marker))
            }
        }
    }

    /// The embedded copies are the files in the tree (scripts/embed-serve-assets.sh was run).
    @Test func embeddedAssetsAndExamplesMatchTheirSources() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        func normal(_ s: String) -> String {
            s.split(separator: "\n", omittingEmptySubsequences: false).map {
                String($0.reversed().drop(while: { $0 == " " }).reversed())
            }.joined(separator: "\n")
        }
        for (name, text) in Assets.sources {
            let file = try String(
                contentsOf: root.appendingPathComponent("Sources/VMServe/Assets/\(name)"), encoding: .utf8)
            #expect(normal(file) == normal(text), "\(name): run scripts/embed-serve-assets.sh")
        }
        let files = try FileManager.default.contentsOfDirectory(
            atPath: root.appendingPathComponent("examples").path
        )
        .filter { $0.hasSuffix(".vmsim") }
        #expect(Set(files.map { String($0.dropLast(6)) }) == Set(Examples.sources.keys))
        for (name, text) in Examples.sources {
            let file = try String(
                contentsOf: root.appendingPathComponent("examples/\(name).vmsim"), encoding: .utf8)
            #expect(normal(file) == normal(text), "\(name): run scripts/embed-serve-assets.sh")
        }
        #expect(Examples.all.first?.name == "demo")
    }

    @Test func examplesListsTheDemo() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let r = try await client.execute(uri: "/api/examples", method: .get)
            #expect(r.status == .ok)
            let examples = try #require(try Self.object(r)["examples"] as? [[String: Any]])
            let demo = try #require(examples.first { $0["name"] as? String == "demo" })
            #expect(demo["text"] as? String == DemoScenario.text)
        }
    }

    @Test func loadStepEventsAndTimeline() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let r = try await Self.post(client, Self.text(Self.small))
            #expect(r.status == .created)
            let load = try Self.object(r)
            let id = try #require(load["session"] as? String)
            let steps = try #require(load["steps"] as? [[String: Any]])
            #expect(steps.count == 6)
            #expect(steps[3]["line"] as? Int == 4)
            #expect((steps[3]["summary"] as? String)?.contains("16 minor faults") == true)
            #expect(load["frames"] as? Int == 16384)

            // Step 4 is `web: write buf value=7`: 16 pages faulted in, frames changed.
            let s = try await client.execute(uri: "/api/sessions/\(id)/steps/4", method: .get)
            #expect(s.status == .ok)
            let step = try Self.object(s)
            #expect(step["line"] as? Int == 4)
            #expect(step["text"] as? String == "web: write buf value=7")
            let machine = try #require(step["machine"] as? [String: Any])
            let frames = try #require(machine["frames"] as? [String: Any])
            #expect((frames["changedTotal"] as? Int ?? 0) >= 16)
            let processes = try #require(machine["processes"] as? [[String: Any]])
            let web = try #require(processes.first { $0["name"] as? String == "web" })
            #expect((web["rssKB"] as? Int ?? 0) >= 64)
            let counters = try #require(machine["counters"] as? [[String: Any]])
            let pgfault = try #require(counters.first { $0["name"] as? String == "pgfault" })
            #expect(pgfault["delta"] as? Int == 16)

            let e = try await client.execute(uri: "/api/sessions/\(id)/steps/4/events", method: .get)
            #expect(e.status == .ok)
            let events = try Self.object(e)
            #expect((events["byType"] as? [String: Int])?["fault"] == 16)
            let list = try #require(events["events"] as? [[String: Any]])
            #expect(list.count == 16)
            #expect((list.first?["handler"] as? String)?.hasPrefix("do_anonymous_page") == true)

            // Back to step 0 (a replay from the start) and forward again give the same view.
            let zero = try await client.execute(uri: "/api/sessions/\(id)/steps/0", method: .get)
            #expect(try Self.object(zero)["step"] as? Int == 0)
            let again = try await client.execute(uri: "/api/sessions/\(id)/steps/4", method: .get)
            #expect(String(buffer: again.body) == String(buffer: s.body))

            let t = try await client.execute(uri: "/api/sessions/\(id)/timeline", method: .get)
            let points = try #require(try Self.object(t)["points"] as? [[String: Any]])
            #expect(points.count == 6)
            #expect((points[3]["rssKB"] as? Int ?? 0) >= 64)

            let g = try await client.execute(uri: "/api/sessions/\(id)", method: .get)
            #expect(try Self.object(g)["session"] as? String == id)
        }
    }

    @Test func walkFrameAndPagesShowCopyOnWriteSharing() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let id = try await Self.load(client)
            let s = try Self.object(
                try await client.execute(uri: "/api/sessions/\(id)/steps/6", method: .get))
            let processes = try #require((s["machine"] as? [String: Any])?["processes"] as? [[String: Any]])
            func pid(_ name: String) throws -> Int {
                try #require(processes.first { $0["name"] as? String == name }?["pid"] as? Int)
            }
            let vmas = try #require(
                processes.first { $0["name"] as? String == "web" }?["vmas"] as? [[String: Any]])
            let buf = try #require(vmas.first { $0["region"] as? String == "buf" }?["start"] as? String)
            var frames: [String] = []
            for name in ["web", "child"] {
                let w = try await client.execute(
                    uri: "/api/sessions/\(id)/steps/6/walk?pid=\(try pid(name))&address=\(buf)&access=read",
                    method: .get)
                #expect(w.status == .ok)
                let walk = try Self.object(w)
                let levels = try #require(walk["levels"] as? [[String: Any]])
                #expect(levels.map { $0["level"] as? String } == ["PGD", "PUD", "PMD", "PTE"])
                #expect(levels.allSatisfy { $0["state"] as? String == "present" })
                let flags = try #require(levels.last?["flags"] as? [String])
                #expect(!flags.contains("RW"), "after fork both PTEs are write-protected: \(flags)")
                frames.append(try #require(walk["frame"] as? String))
            }
            #expect(frames[0] == frames[1])
            let f = try await client.execute(
                uri: "/api/sessions/\(id)/steps/6/frames/\(frames[0])", method: .get)
            #expect(f.status == .ok)
            let frame = try Self.object(f)
            #expect(frame["mapcount"] as? Int == 2)
            #expect(frame["use"] as? String == "anon shared (COW)")
            let mappers = try #require(frame["mappedBy"] as? [[String: Any]])
            #expect(Set(mappers.compactMap { $0["process"] as? String }) == ["web", "child"])

            let p = try await client.execute(
                uri: "/api/sessions/\(id)/steps/6/pages?pid=\(try pid("web"))&vma=\(buf)", method: .get)
            let strip = try Self.object(p)
            #expect(strip["pages"] as? Int == 16)
            #expect((strip["cells"] as? [Int]) == Array(repeating: 4, count: 16))

            // Errors of these routes.
            for (uri, status) in [
                ("/api/sessions/\(id)/steps/6/walk?pid=\(try pid("web"))&address=\(buf)&access=jump", 400),
                ("/api/sessions/\(id)/steps/6/walk?address=\(buf)", 400),
                ("/api/sessions/\(id)/steps/6/walk?pid=999&address=0x1000", 404),
                ("/api/sessions/\(id)/steps/6/walk?pid=1&address=zz", 400),
                ("/api/sessions/\(id)/steps/6/frames/0x100000000", 404),
                ("/api/sessions/\(id)/steps/6/pages?pid=\(try pid("web"))&vma=0x10", 404),
                ("/api/sessions/\(id)/steps/7", 400), ("/api/sessions/\(id)/steps/-1", 400),
                ("/api/sessions/\(id)/steps/two", 400),
            ] {
                let r = try await client.execute(uri: uri, method: .get)
                #expect(r.status.code == status, "\(uri)")
                #expect(try Self.object(r)["error"] is String, "\(uri)")
            }
        }
    }

    @Test func scenarioErrorsCarryLineAndColumn() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let r = try await Self.post(client, Self.text("spawn web\nweb: mmap buf 4KiB anon private rwz\n"))
            #expect(r.status == .badRequest)
            let error = try Self.object(r)
            #expect(error["line"] as? Int == 2)
            #expect((error["column"] as? Int ?? 0) > 1)
            #expect((error["location"] as? String)?.hasPrefix("2:") == true)
            // A PUT with an error leaves the session's scenario as it was.
            let id = try await Self.load(client)
            let put = try await client.execute(
                uri: "/api/sessions/\(id)", method: .put, body: ByteBuffer(string: Self.text("frobnicate\n")))
            #expect(put.status == .badRequest)
            #expect(try Self.object(put)["line"] as? Int == 1)
            let put2 = try await client.execute(
                uri: "/api/sessions/\(id)", method: .put, body: ByteBuffer(string: "{\"example\":\"cow\"}"))
            #expect(put2.status == .ok)
            #expect(try Self.object(put2)["name"] as? String == "cow")
        }
    }

    @Test func badRequestsGetJSONErrors() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            for (body, status) in [
                ("not json", 400), ("{}", 400), ("{\"example\":\"nope\"}", 404), ("[1,2]", 400),
            ] {
                let r = try await Self.post(client, body)
                #expect(r.status.code == status, "\(body)")
                #expect(try Self.object(r)["error"] is String)
            }
            for (uri, method, status) in [
                ("/api/sessions/0123", HTTPRequest.Method.get, 404),
                ("/api/sessions/0123/steps/0", .get, 404),
                ("/api/sessions/0123", .delete, 404), ("/api/nothing", .get, 404),
            ] {
                let r = try await client.execute(uri: uri, method: method)
                #expect(r.status.code == status, "\(uri)")
                #expect(try Self.object(r)["error"] is String, "\(uri)")
            }
            let id = try await Self.load(client)
            let d = try await client.execute(uri: "/api/sessions/\(id)", method: .delete)
            #expect(d.status == .noContent)
            let gone = try await client.execute(uri: "/api/sessions/\(id)/steps/0", method: .get)
            #expect(gone.status == .notFound)
        }
    }

    @Test func limitsOnPostedScenarios() async throws {
        var limits = ServeLimits()
        limits.scenarioBytes = 2000
        limits.statements = 20
        limits.accesses = 1000
        limits.ramBytes = 128 << 20
        limits.sessions = 3
        let (app, store) = Self.app(limits)
        try await app.test(.router) { client in
            let big = try await Self.post(client, Self.text(String(repeating: "# filler\n", count: 300)))
            #expect(big.status.code == 413)
            let huge = try await Self.post(
                client, "{\"text\":\"" + String(repeating: "x", count: 10_000) + "\"}")
            #expect(huge.status.code == 413)
            let many = try await Self.post(client, Self.text(String(repeating: "tick 1s\n", count: 25)))
            #expect(many.status.code == 413)
            #expect(try Self.object(many)["line"] as? Int == 21)
            let ram = try await Self.post(client, Self.text("machine memory=1GiB\nspawn a\n"))
            #expect(ram.status.code == 422)
            #expect(try Self.object(ram)["line"] as? Int == 1)
            // Too much simulated work: the run stops with a message, the steps before it still work.
            let work = try await Self.post(
                client,
                Self.text("machine memory=64MiB\nspawn a\na: mmap m 16MiB anon private rw\na: write m\n"))
            #expect(work.status == .created)
            let load = try Self.object(work)
            #expect((load["stopReason"] as? String)?.contains("more than 1000 memory accesses") == true)
            #expect(store.count == 1)
            // Sessions are bounded; idle ones are dropped.
            let a = try await Self.load(client, "machine memory=64MiB\nspawn a\n")
            _ = try await Self.load(client, "machine memory=64MiB\nspawn b\n")
            let full = try await Self.post(client, Self.text("machine memory=64MiB\nspawn c\n"))
            #expect(full.status.code == 503)
            store.setLastUsed(a, Date(timeIntervalSinceNow: -store.limits.idleSeconds - 1))
            store.sweep()
            #expect(store.count == 2)
            let dropped = try await client.execute(uri: "/api/sessions/\(a)/steps/0", method: .get)
            #expect(dropped.status == .notFound)
            #expect((try Self.object(dropped)["error"] as? String)?.contains("idle") == true)
            #expect(
                try await Self.post(client, Self.text("machine memory=64MiB\nspawn c\n")).status == .created)
        }
    }

    @Test func translateExercise() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let r = try await client.execute(uri: "/api/translate?arch=x86_64&seed=7&count=3", method: .get)
            #expect(r.status == .ok)
            let body = try Self.object(r)
            #expect((body["problem"] as? String)?.contains("Translate") == true)
            let exercise = try #require(body["exercise"] as? [String: Any])
            #expect((exercise["answers"] as? [Any])?.count == 3)
            // Same seed, same exercise.
            let again = try await client.execute(
                uri: "/api/translate?arch=x86_64&seed=7&count=3", method: .get)
            #expect(String(buffer: again.body) == String(buffer: r.body))
            for uri in ["/api/translate?arch=vax", "/api/translate?count=0", "/api/translate?seed=x"] {
                let bad = try await client.execute(uri: uri, method: .get)
                #expect(bad.status == .badRequest, "\(uri)")
            }
        }
    }

    /// The demo, as the page shows it: after the fork the child's pages share the parent's
    /// frames; the pressure step sends pages to swap and takes free memory below the low mark.
    @Test func demoForkAndPressure() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let r = try await Self.post(client, "{\"example\":\"demo\"}")
            #expect(r.status == .created)
            let load = try Self.object(r)
            let id = try #require(load["session"] as? String)
            #expect(load["expectationsFailed"] as? Int == 0)
            let steps = try #require(load["steps"] as? [[String: Any]])
            func step(_ text: String) throws -> Int {
                try #require(steps.first { $0["text"] as? String == text }?["step"] as? Int)
            }
            let fork = try step("web: fork worker")
            let s = try Self.object(
                try await client.execute(uri: "/api/sessions/\(id)/steps/\(fork)", method: .get))
            let m = try #require(s["machine"] as? [String: Any])
            let processes = try #require(m["processes"] as? [[String: Any]])
            let web = try #require(processes.first { $0["name"] as? String == "web" })
            let worker = try #require(processes.first { $0["name"] as? String == "worker" })
            let buf = try #require(
                (web["vmas"] as? [[String: Any]])?.first { $0["region"] as? String == "buf" }?["start"]
                    as? String)
            var frames: [String] = []
            for p in [web, worker] {
                let w = try Self.object(
                    try await client.execute(
                        uri: "/api/sessions/\(id)/steps/\(fork)/walk?pid=\(p["pid"] as! Int)&address=\(buf)",
                        method: .get))
                frames.append(try #require(w["frame"] as? String))
            }
            #expect(frames[0] == frames[1])

            let pressure = try step("batch: write work value=5")
            let p = try Self.object(
                try await client.execute(uri: "/api/sessions/\(id)/steps/\(pressure)", method: .get))
            let pm = try #require(p["machine"] as? [String: Any])
            let swap = try #require(pm["swap"] as? [[String: Any]])
            #expect((swap.first?["used"] as? Int ?? 0) > 0)
            let zones = try #require(pm["zones"] as? [[String: Any]])
            #expect(zones.contains { ($0["free"] as! Int) < ($0["low"] as! Int) })
            #expect((p["summary"] as? String)?.contains("fell below low") == true)
            let frames2 = try #require(pm["frames"] as? [String: Any])
            #expect((frames2["changedTotal"] as? Int ?? 0) > 10_000)
        }
    }
}

import Foundation
import Hummingbird
import Logging
import NIOCore
import VMPaging
import VMSim
import VMTypes

/// The web visualiser's HTTP server (`vmsim serve`): the page's embedded assets and the JSON
/// API it uses (docs/serve-api.md). Each browser session gets its own simulated machine
/// (`Session`); every error is a 4xx/5xx JSON object `{"error": …}`, with `line` and `column`
/// for a scenario error.
public enum VisualiserServer {
    /// The router with every route, over `store` (the tests drive it without a socket).
    public static func router(store: SessionStore) -> Router<BasicRequestContext> {
        let router = Router()
        for asset in Assets.all {
            router.get(RouterPath(asset.path)) { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: ByteBuffer(string: asset.text)))
            }
        }
        router.get("/api/examples") { _, _ in
            struct Example: Encodable {
                var name: String
                var text: String
            }
            return json(
                Session.encode(["examples": Examples.all.map { Example(name: $0.name, text: $0.text) }]))
        }
        router.post("/api/sessions") { request, _ in
            try await handle {
                let session = try store.create()
                do {
                    try await load(session, request: request, store: store)
                } catch {
                    _ = store.remove(session.id)
                    throw error
                }
                return json(session.loadJSON, status: .created)
            }
        }
        router.put("/api/sessions/:id") { request, context in
            try await handle {
                let session = try store.get(context.parameters.get("id") ?? "")
                try await load(session, request: request, store: store)
                return json(session.loadJSON)
            }
        }
        router.get("/api/sessions/:id") { _, context in
            try await handle {
                let session = try store.get(context.parameters.get("id") ?? "")
                return json(try session.locked { session.loadJSON })
            }
        }
        router.delete("/api/sessions/:id") { _, context in
            try await handle {
                let id = context.parameters.get("id") ?? ""
                guard store.remove(id) else { throw ServeError(404, "no session '\(id.prefix(64))'") }
                return Response(status: .noContent)
            }
        }
        router.get("/api/sessions/:id/timeline") { _, context in
            try await handle {
                let session = try store.get(context.parameters.get("id") ?? "")
                return json(try session.locked { session.timelineJSON })
            }
        }
        router.get("/api/sessions/:id/steps/:step") { request, context in
            try await handle {
                let (session, step) = try sessionAndStep(store, request, context)
                let data = try session.locked { () throws(ServeError) in try session.step(step).json }
                return json(data)
            }
        }
        router.get("/api/sessions/:id/steps/:step/events") { request, context in
            try await handle {
                let (session, step) = try sessionAndStep(store, request, context)
                let data = try session.locked { () throws(ServeError) in try session.step(step).eventsJSON }
                return json(data)
            }
        }
        router.get("/api/sessions/:id/steps/:step/frames/:pfn") { request, context in
            try await handle {
                let (session, step) = try sessionAndStep(store, request, context)
                let pfn = try number(context.parameters.get("pfn"), "pfn")
                let data = try session.locked { () throws(ServeError) in
                    try session.frame(step: step, pfn: pfn)
                }
                return json(data)
            }
        }
        router.get("/api/sessions/:id/steps/:step/walk") { request, context in
            try await handle {
                let (session, step) = try sessionAndStep(store, request, context)
                let query = request.uri.queryParameters
                let pid = try number(query.get("pid"), "pid")
                let address = try number(query.get("address"), "address")
                let accessName = query.get("access") ?? "read"
                guard let access = Access(rawValue: accessName) else {
                    throw ServeError(
                        400, "access: expected read, write or fetch, got '\(accessName.prefix(32))'")
                }
                let data = try session.locked { () throws(ServeError) in
                    try session.walk(step: step, pid: Int(clamping: pid), address: address, access: access)
                }
                return json(data)
            }
        }
        router.get("/api/sessions/:id/steps/:step/pages") { request, context in
            try await handle {
                let (session, step) = try sessionAndStep(store, request, context)
                let query = request.uri.queryParameters
                let pid = try number(query.get("pid"), "pid")
                let start = try number(query.get("vma"), "vma")
                let data = try session.locked { () throws(ServeError) in
                    try session.pages(step: step, pid: Int(clamping: pid), vmaStart: start)
                }
                return json(data)
            }
        }
        router.get("/api/translate") { request, _ in
            try await handle {
                let query = request.uri.queryParameters
                let seed = try number(query.get("seed") ?? "1", "seed")
                let count = try number(query.get("count") ?? "4", "count")
                guard (1...16).contains(count) else {
                    throw ServeError(400, "count: expected 1…16, got \(count)")
                }
                let archName = query.get("arch") ?? "i386"
                guard let arch = Architecture.named(archName) else {
                    throw ServeError(
                        400,
                        "arch: unknown architecture '\(archName.prefix(32))' (x86_64, x86_64-la57, i386, i386-pae)"
                    )
                }
                let exercise: TranslationExercise
                do {
                    exercise = try TranslationExercise(architecture: arch, seed: seed, count: Int(count))
                } catch let error as ExerciseError {
                    throw ServeError(400, "\(error.setting): \(error.message)")
                }
                var body = "{\"problem\":" + EventJSON.string(exercise.problemText())
                body += ",\"solution\":" + EventJSON.string(exercise.answersText(exercise.solve()))
                body += ",\"exercise\":" + exercise.json(answers: true) + "}"
                return json(Data(body.utf8))
            }
        }
        router.addMiddleware { NotFoundJSON() }
        return router
    }

    /// Runs the server until it is stopped; `ready` gets the bound port (0 asks for any free one).
    public static func run(
        host: String, port: Int, store: SessionStore = SessionStore(),
        ready: @escaping @Sendable (Int) -> Void
    ) async throws {
        var logger = Logger(label: "vmsim serve")
        logger.logLevel = .warning
        let app = Application(
            router: router(store: store),
            configuration: .init(address: .hostname(host, port: port), serverName: "vmsim"),
            onServerRunning: { channel in ready(channel.localAddress?.port ?? port) }, logger: logger)
        let sweeper = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(30))
                store.sweep()
            }
        }
        defer { sweeper.cancel() }
        try await app.runService()
    }

    static func load(_ session: Session, request: Request, store: SessionStore) async throws(ServeError) {
        store.enforceMachineBudget()
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: store.limits.scenarioBytes + 4096)
        } catch {
            throw ServeError(
                413, "the request body is larger than \(store.limits.scenarioBytes + 4096) bytes")
        }
        struct LoadRequest: Decodable {
            var example: String?
            var text: String?
            var name: String?
        }
        let body: LoadRequest
        do {
            body = try JSONDecoder().decode(LoadRequest.self, from: Data(buffer.readableBytesView))
        } catch {
            throw ServeError(400, "expected a JSON object {\"example\": NAME} or {\"text\": SCENARIO}")
        }
        let name: String
        let text: String
        if let example = body.example {
            guard let found = Examples.all.first(where: { $0.name == example }) else {
                throw ServeError(
                    404,
                    "no example '\(example.prefix(64))' (examples: \(Examples.all.map(\.name).joined(separator: ", ")))"
                )
            }
            (name, text) = (found.name, found.text)
        } else if let posted = body.text {
            (name, text) = (String((body.name ?? "scenario").prefix(64)), posted)
        } else {
            throw ServeError(400, "expected a JSON object {\"example\": NAME} or {\"text\": SCENARIO}")
        }
        try session.locked { () throws(ServeError) in try session.load(name: name, text: text) }
    }

    static func sessionAndStep(_ store: SessionStore, _ request: Request, _ context: BasicRequestContext)
        throws(ServeError) -> (Session, Int)
    {
        store.enforceMachineBudget()
        let session = try store.get(context.parameters.get("id") ?? "")
        let raw = context.parameters.get("step") ?? ""
        guard let step = Int(raw) else {
            throw ServeError(400, "step: expected a number, got '\(raw.prefix(32))'")
        }
        return (session, step)
    }

    /// A decimal or 0x-hexadecimal number from a query or path parameter.
    static func number(_ raw: String?, _ name: String) throws(ServeError) -> UInt64 {
        guard let raw else { throw ServeError(400, "\(name): missing") }
        let value: UInt64?
        if raw.hasPrefix("0x") || raw.hasPrefix("0X") {
            value = UInt64(raw.dropFirst(2), radix: 16)
        } else {
            value = UInt64(raw)
        }
        guard let value else { throw ServeError(400, "\(name): expected a number, got '\(raw.prefix(32))'") }
        return value
    }

    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Runs a handler, turning a `ServeError` into its JSON response.
    static func handle(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as ServeError {
            return json(Data(error.json.utf8), status: HTTPResponse.Status(code: error.status))
        }
    }
}

/// Unknown paths and methods answer with the JSON error shape too.
struct NotFoundJSON: RouterMiddleware {
    typealias Context = BasicRequestContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            let e = ServeError(
                error.status.code,
                "no route \(request.method.rawValue) \(String(request.uri.path.prefix(128)))")
            return VisualiserServer.json(Data(e.json.utf8), status: error.status)
        }
    }
}

import ArgumentParser
import Dispatch
import Foundation
import VMServe

/// `vmsim serve`: the web visualiser — step through any scenario in a browser.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Start the web visualiser: step through a scenario in a browser and watch the kernel change.",
        discussion: """
            Serves a page (embedded in the binary; no network needed) and the JSON API it uses \
            (docs/serve-api.md). Each browser session gets its own simulated machine. Binds to \
            loopback unless --host says otherwise; --port 0 picks a free port. Stop it with Ctrl-C.
            """)

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"
    @Option(help: "TCP port (0: any free port; the URL printed says which).")
    var port: Int = 8080

    func validate() throws {
        guard (0...65535).contains(self.port) else {
            throw ValidationError("--port: expected 0…65535, got \(self.port)")
        }
    }

    func run() throws {
        final class Outcome: @unchecked Sendable { var error: (any Error)? }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let host = self.host
        let port = self.port
        Task {
            do {
                try await VisualiserServer.run(host: host, port: port) { bound in
                    let shown = host.contains(":") ? "[\(host)]" : host
                    print("vmsim serve: http://\(shown):\(bound)/  (Ctrl-C stops it)")
                }
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error {
            throw CLIError(message: "serve: \(error)")
        }
    }
}

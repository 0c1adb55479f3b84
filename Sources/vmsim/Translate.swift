import ArgumentParser
import VMPaging
import VMPhys
import VMSim
import VMTypes

/// `vmsim translate`: a reproducible address-translation problem and its worked answer.
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain address translation step by step: a reproducible exercise with worked answers.",
        discussion: """
            Prints page tables in random frames and virtual addresses to translate; --answers adds the \
            worked solution (segmentation, index bits, each entry read, the TLB, the physical address or \
            the fault and its error code). A teaching geometry is given by --address-bits, --page-size \
            and --level-bits, e.g. --address-bits 15 --page-size 32 --level-bits 5,5 (the OSTEP homework).
            """)

    @Option(help: "Architecture: x86_64, x86_64-la57, i386, i386-pae.")
    var arch: String = "i386"
    @Option(help: "Seed of the exercise, 0 … 2^64 − 1 (same seed, same exercise).")
    var seed: UInt64 = 1
    @Option(help: "Number of addresses to translate (1…64).")
    var count: Int = 6
    @Flag(help: "Print the worked solution.")
    var answers = false
    @Flag(help: "Print the exercise as one JSON object.")
    var json = false
    @Option(
        help: "Segmentation: flat (Linux), protected (i386 textbook descriptors), real (8086, no paging).")
    var segmentation: String = "flat"
    @Option(
        name: .customLong("address-bits"), help: "Teaching geometry: virtual address width (4 … 32 bits).")
    var addressBits: Int?
    @Option(
        name: .customLong("page-size"), help: "Teaching geometry: page size, a power of two (e.g. 32 or 32B)."
    )
    var pageSize: String?
    @Option(
        name: .customLong("level-bits"),
        help: "Teaching geometry: index bits per level (1 … 16 each), root first (e.g. 5,5).")
    var levelBits: String?
    @Option(name: .customLong("entry-bytes"), help: "Teaching geometry: bytes per entry (1 … 8).")
    var entryBytes: Int = 1
    @Option(
        name: .customLong("physical-pages"),
        help:
            "Teaching geometry: pages of physical memory (4 … 65536, at most what an entry can name)."
    )
    var physicalPages: Int = 128

    /// The ranges of the numeric flags and the teaching geometry, before anything is built.
    func validate() throws {
        guard (1...64).contains(self.count) else {
            throw ValidationError("--count: expected 1…64 questions, got \(self.count)")
        }
        do { _ = try self.architecture() } catch let error as CLIError {
            throw ValidationError(error.message)
        }
    }

    /// Prints the problem (and answers).
    func run() throws {
        print(try self.output(), terminator: "")
    }

    /// The problem as text or JSON.
    func output() throws -> String {
        let architecture = try self.architecture()
        guard let style = TranslationExercise.SegmentationStyle(rawValue: self.segmentation) else {
            throw CLIError(
                message:
                    "--segmentation: unknown style '\(self.segmentation)' (expected flat, protected, real)")
        }
        let exercise: TranslationExercise
        do {
            exercise = try TranslationExercise(
                architecture: architecture, seed: self.seed, count: self.count, style: style,
                physicalPages: self.physicalPages)
        } catch {
            throw CLIError(message: "--\(error.setting): \(error.message)")
        }
        if self.json { return exercise.json(answers: self.answers) + "\n" }
        var out = exercise.problemText()
        if self.answers { out += "\nAnswers:\n" + exercise.answersText(exercise.solve()) }
        return out
    }

    /// The architecture the flags describe (a named one, or a teaching geometry).
    func architecture() throws -> Architecture {
        let teaching = self.addressBits != nil || self.pageSize != nil || self.levelBits != nil
        guard teaching else {
            guard let arch = Architecture.named(self.arch) else {
                throw CLIError(
                    message:
                        "--arch: unknown architecture '\(self.arch)' (expected \(MachineSpec.architectureNames.joined(separator: ", ")))"
                )
            }
            return arch
        }
        guard let bits = self.addressBits, let pageText = self.pageSize, let levelText = self.levelBits else {
            throw CLIError(
                message: "--address-bits, --page-size and --level-bits go together (a teaching geometry)")
        }
        let page: UInt64
        do { page = try ByteSize.parse(pageText) } catch {
            throw CLIError(message: "--page-size: \(error.description)")
        }
        guard page >= 2, page & (page - 1) == 0 else {
            throw CLIError(message: "--page-size: \(page) is not a power of two")
        }
        var levels: [Int] = []
        for part in levelText.split(separator: ",") {
            guard let n = Int(part), (1...16).contains(n) else {
                throw CLIError(message: "--level-bits: '\(part)' is not 1…16")
            }
            levels.append(n)
        }
        let shift = page.trailingZeroBitCount
        guard (4...32).contains(bits), levels.reduce(shift, +) == bits else {
            throw CLIError(
                message:
                    "--level-bits: \(levels.map(String.init).joined(separator: "+")) index bits + \(shift) offset bits (--page-size \(page)) must equal --address-bits \(bits) (4…32)"
            )
        }
        guard (1...8).contains(self.entryBytes) else {
            throw CLIError(message: "--entry-bytes: expected 1…8")
        }
        return Architecture.teaching(
            addressBits: bits, pageShift: shift, levelBits: levels, entryBytes: self.entryBytes)
    }
}

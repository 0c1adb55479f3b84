import VMPhys
import VMTypes

/// Swap entry points used by the fault and unmap paths. Swap areas arrive with reclaim; until a
/// swap area exists no PTE can hold a swap entry, so reaching these is a simulator bug.
extension Kernel {
    /// `do_swap_page()`.
    func doSwapPage(_ mm: AddressSpace, slot: Int, address: UInt64, pte: PTE, write: Bool) -> FaultResult {
        preconditionFailure("doSwapPage: swap entry \(pte) at \(hex(address)) but no swap area exists")
    }

    /// `free_swap_and_cache()`.
    func freeSwapEntry(_ entry: SwapEntry) {
        preconditionFailure("freeSwapEntry: \(entry) but no swap area exists")
    }

    /// `swap_duplicate()`: another PTE refers to the slot (fork).
    func swapDuplicate(_ entry: SwapEntry) {
        preconditionFailure("swapDuplicate: \(entry) but no swap area exists")
    }

    /// `folio_free_swap()`.
    func freeSwapCache(_ pfn: PFN) {
        preconditionFailure("freeSwapCache: \(pfn) is in a swap cache that does not exist")
    }
}

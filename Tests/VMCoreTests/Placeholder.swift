import Testing

@testable import VMCore

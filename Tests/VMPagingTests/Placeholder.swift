import Testing

@testable import VMPaging

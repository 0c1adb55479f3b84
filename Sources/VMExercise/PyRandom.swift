/// CPython's `random.Random`: the Mersenne Twister MT19937 seeded the way `random.seed(int)` seeds
/// it, and `random()` built from two 32-bit outputs.
///
/// A port of Modules/_randommodule.c (`init_genrand`, `init_by_array`, `genrand_uint32`,
/// `random_seed`, `random_random`), which is the same in Python 2.7 and Python 3: an integer seed
/// is replaced by its absolute value, cut into 32-bit words from the least significant end
/// (a zero seed gives the one word 0) and fed to `init_by_array`. The OSTEP scripts call only
/// `seed(int)` and `random()`, so `randrange`, `choice` and `shuffle` (whose Python 2 and 3
/// versions differ) are not needed and not provided.
public struct PyRandom: Sendable {
    private var state: [UInt32]
    private var index: Int

    /// Seeds like `random.seed(n)` for the integer whose magnitude is `magnitude`.
    public init(seed magnitude: PyInt) {
        self.state = [UInt32](repeating: 0, count: 624)
        self.index = 624
        let words = magnitude.magnitude.isEmpty ? [0] : magnitude.magnitude
        self.initByArray(words)
    }

    /// Seeds like `random.seed(n)` for a machine integer.
    public init(seed: Int) {
        self.init(seed: PyInt(seed))
    }

    private mutating func initGenrand(_ s: UInt32) {
        self.state[0] = s
        for i in 1..<624 {
            let previous = self.state[i - 1]
            self.state[i] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(i)
        }
        self.index = 624
    }

    private mutating func initByArray(_ key: [UInt32]) {
        self.initGenrand(19_650_218)
        var i = 1
        var j = 0
        let n = 624
        var k = max(n, key.count)
        while k > 0 {
            let previous = self.state[i - 1]
            self.state[i] =
                (self.state[i] ^ ((previous ^ (previous >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= n {
                self.state[0] = self.state[n - 1]
                i = 1
            }
            if j >= key.count { j = 0 }
            k -= 1
        }
        k = n - 1
        while k > 0 {
            let previous = self.state[i - 1]
            self.state[i] = (self.state[i] ^ ((previous ^ (previous >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= n {
                self.state[0] = self.state[n - 1]
                i = 1
            }
            k -= 1
        }
        self.state[0] = 0x8000_0000
    }

    /// `genrand_uint32`: the next 32-bit output.
    public mutating func nextUInt32() -> UInt32 {
        let n = 624
        let m = 397
        if self.index >= n {
            for kk in 0..<n {
                let y = (self.state[kk] & 0x8000_0000) | (self.state[(kk + 1) % n] & 0x7fff_ffff)
                self.state[kk] = self.state[(kk + m) % n] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : 0x9908_b0df)
            }
            self.index = 0
        }
        var y = self.state[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// `random.random()`: a double in [0, 1) with 53 random bits.
    public mutating func random() -> Double {
        let a = Double(self.nextUInt32() >> 5)
        let b = Double(self.nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }
}

// Translation unit B: another file-local `helper`, same name and signature as A's: two
// different functions that only their address (and source file) tell apart.
#include "work.hpp"

static __attribute__((noinline)) std::uint64_t helper(std::uint64_t x, std::uint64_t units) {
    enter();
    for (std::uint64_t i = 0; i < units * UNIT_ITERS; i++) {
        x = x * 2862933555777941757ULL + 3037000493ULL;
        x ^= x >> 31;
    }
    return x;
}

std::uint64_t geo::work_b(std::uint64_t seed, std::uint64_t units) { return helper(seed, units) + 2; }

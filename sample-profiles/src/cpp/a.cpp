// Translation unit A: a file-local `helper` (2 units of work per call from work_a).
#include "work.hpp"

static __attribute__((noinline)) std::uint64_t helper(std::uint64_t x, std::uint64_t units) {
    enter();
    for (std::uint64_t i = 0; i < units * UNIT_ITERS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 29;
    }
    return x;
}

std::uint64_t geo::work_a(std::uint64_t seed, std::uint64_t units) { return helper(seed, units) + 1; }

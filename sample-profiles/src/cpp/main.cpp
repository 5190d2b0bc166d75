// hotpp: the C++ sample program. Per slice, on one thread:
//   geo::work_a -> helper (a.cpp)            2 units
//   geo::work_b -> helper (b.cpp)            1 unit
//   geo::Accumulator<unsigned long>::step    1 unit
// so the two `helper`s take 50 % and 25 %, the template member 25 %.
#include "work.hpp"
#include <cstdio>
#include <cstdlib>

extern "C" __attribute__((noinline)) void enter() { __asm__ volatile("" ::: "memory"); }

template <typename T> T geo::Accumulator<T>::step(std::uint64_t units) {
    enter();
    T x = state;
    for (std::uint64_t i = 0; i < units * UNIT_ITERS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 27;
    }
    state = x;
    return x;
}

template struct geo::Accumulator<unsigned long>;

static volatile std::uint64_t sink;

int main(int argc, char **argv) {
    std::uint64_t slices = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 60;
    geo::Accumulator<unsigned long> acc{7};
    for (std::uint64_t s = 0; s < slices; s++) {
        sink = geo::work_a(s, 2);
        sink = geo::work_b(s, 1);
        sink = acc.step(1);
    }
    std::printf("%llu\n", (unsigned long long)sink);
    return 0;
}

// Declarations shared by the C++ sample (see main.cpp).
#pragma once
#include <cstdint>

// Called first by every hot function so that it is not a leaf and gets a frame pointer
// (see hot.c).
extern "C" void enter();

namespace geo {
std::uint64_t work_a(std::uint64_t seed, std::uint64_t units);
std::uint64_t work_b(std::uint64_t seed, std::uint64_t units);

// A template member function: its symbol is mangled with the template argument.
template <typename T> struct Accumulator {
    T state;
    __attribute__((noinline)) T step(std::uint64_t units);
};
} // namespace geo

#define UNIT_ITERS 2000000ULL

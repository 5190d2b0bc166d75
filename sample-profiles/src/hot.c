/*
 * hot.c - a small program with a known cost profile, used to make the sample captures.
 *
 * Work is split into "units" of equal cost (the same inner loop), so the expected shares are
 * known from the source alone:
 *
 *   thread "main"    leaf_a         4 units   hot loop, called from main_work
 *                    leaf_b         2 units   its loop body is the always-inlined mix()
 *                    recurse(8)     2 units   recursion 8 deep, work done at the bottom
 *   thread "worker"  leaf_c         4 units   hot loop on a second thread
 *
 * Built with debug info and frame pointers (see record.sh). gcc 12 still sets up no frame in
 * a leaf function that needs no stack, whatever -mno-omit-leaf-frame-pointer says, and a
 * frame-pointer unwind then skips the leaf's caller. So every hot function first calls
 * enter(), an empty out-of-line function: no longer a leaf, it gets its frame.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef UNITS
#define UNITS 100
#endif

static volatile uint64_t sink;

/* One unit of work: an integer hash loop the compiler cannot remove. */
#define UNIT_ITERS 2000000ULL

/* Makes its caller a non-leaf function (see the top of the file). */
__attribute__((noinline)) void enter(void) { __asm__ volatile("" ::: "memory"); }

__attribute__((noinline)) uint64_t leaf_a(uint64_t seed, uint64_t units) {
    enter();
    uint64_t x = seed;
    for (uint64_t i = 0; i < units * UNIT_ITERS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 29;
    }
    return x;
}

static inline __attribute__((always_inline)) uint64_t mix(uint64_t x) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    x ^= x >> 29;
    return x;
}

__attribute__((noinline)) uint64_t leaf_b(uint64_t seed, uint64_t units) {
    enter();
    uint64_t x = seed;
    for (uint64_t i = 0; i < units * UNIT_ITERS; i++) {
        x = mix(x);
    }
    return x;
}

__attribute__((noinline)) uint64_t recurse(int depth, uint64_t seed, uint64_t units) {
    if (depth == 0) {
        enter();
        uint64_t x = seed;
        for (uint64_t i = 0; i < units * UNIT_ITERS; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            x ^= x >> 29;
        }
        return x;
    }
    uint64_t r = recurse(depth - 1, seed + 1, units);
    sink = r; /* keep the call from becoming a tail call */
    return r;
}

__attribute__((noinline)) uint64_t leaf_c(uint64_t seed, uint64_t units) {
    enter();
    uint64_t x = seed;
    for (uint64_t i = 0; i < units * UNIT_ITERS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 29;
    }
    return x;
}

static uint64_t units_total = UNITS;

static void *worker_main(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "worker");
    /* Interleave in slices so that both threads run for the whole program. */
    for (uint64_t s = 0; s < units_total; s++) {
        sink = leaf_c(s, 4);
    }
    return NULL;
}

__attribute__((noinline)) void main_work(void) {
    for (uint64_t s = 0; s < units_total; s++) {
        sink = leaf_a(s, 4);
        sink = leaf_b(s, 2);
        sink = recurse(8, s, 2);
    }
}

int main(int argc, char **argv) {
    if (argc > 1) {
        units_total = strtoull(argv[1], NULL, 10);
    }
    pthread_t worker;
    if (pthread_create(&worker, NULL, worker_main, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    main_work();
    pthread_join(worker, NULL);
    printf("%llu\n", (unsigned long long)sink);
    return 0;
}

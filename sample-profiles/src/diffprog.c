/*
 * diffprog.c - the program behind the before/after captures (`record-diff.sh`).
 *
 * Four stages of a toy request handler, each spending its time in its own loop, so each shows
 * up as its own self time. `diffprog ROUNDS` is the baseline; `diffprog ROUNDS slow` makes
 * render_page do twice its work: the regression the comparison must find.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

#define SPIN(n, seed)                                                                    \
    do {                                                                                 \
        uint64_t x = (seed) | 1;                                                         \
        for (uint64_t i = 0; i < (n); i++) {                                             \
            x ^= x << 13;                                                                \
            x ^= x >> 7;                                                                 \
            x ^= x << 17;                                                                \
        }                                                                                \
        sink += x;                                                                       \
    } while (0)

__attribute__((noinline)) void parse_request(uint64_t n) { SPIN(n, 11); }
__attribute__((noinline)) void lookup_user(uint64_t n) { SPIN(n, 23); }
__attribute__((noinline)) void render_page(uint64_t n) { SPIN(n, 37); }
__attribute__((noinline)) void compress_reply(uint64_t n) { SPIN(n, 41); }

__attribute__((noinline)) void handle(int slow) {
    const uint64_t unit = 200000;
    parse_request(unit);
    lookup_user(unit);
    render_page(slow ? 2 * unit : unit);
    compress_reply(unit);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    int slow = argc > 2 && strcmp(argv[2], "slow") == 0;
    for (int r = 0; r < rounds; r++)
        handle(slow);
    printf("%llu\n", (unsigned long long)sink);
    return 0;
}

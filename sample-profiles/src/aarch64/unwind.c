/* The aarch64 DWARF-unwinding sample (see record-aarch64.sh): nested out-of-line calls in a
 * program built without frame pointers, stopped under gdb at points where the return address
 * is in different places:
 *
 *   leaf_lr      a leaf that sets up no frame: its return address is only in x30 (LR)
 *   leaf_frame   a leaf with a stack frame (a local array) and still no saved x30
 *   inner        a non-leaf function, stopped at its first instruction (nothing saved yet), in
 *                the middle of its prologue and at its `ret` (everything restored)
 *   recurse      six calls deep into itself, then leaf_lr
 *   report       printf and fflush down to libc's write: libc's own unwind information
 *
 * Every function is noinline and -O1 makes no tail calls, so each call is a frame.
 */
#include <stdio.h>

#define NOINLINE __attribute__((noinline))

volatile unsigned long sink;

NOINLINE unsigned long leaf_lr(unsigned long n) {
    return (n * 2654435761u) ^ (n >> 7) ^ sink;
}

NOINLINE unsigned long leaf_frame(unsigned long n) {
    volatile unsigned char buf[200];
    buf[0] = (unsigned char)n;
    buf[199] = (unsigned char)(n >> 8);
    buf[n % 200] = 7;
    unsigned long h = buf[0] + buf[199] + buf[n % 100]; /* STOP leaf_frame */
    return h;
}

NOINLINE unsigned long inner(unsigned long n) {
    unsigned long a = leaf_lr(n);
    unsigned long b = leaf_frame(n + a);
    return a + b * 3;
}

NOINLINE unsigned long middle(unsigned long n) {
    return inner(n * 3) ^ 7;
}

NOINLINE unsigned long outer(unsigned long n) {
    return middle(n + 1) + 1;
}

NOINLINE unsigned long recurse(int depth, unsigned long n) {
    if (depth == 0)
        return leaf_lr(n);
    return recurse(depth - 1, n + (unsigned long)depth) * 2 + 1;
}

NOINLINE void report(unsigned long v) {
    printf("result %lu\n", v);
    fflush(stdout);
}

int main(int argc, char **argv) {
    (void)argv;
    unsigned long v = outer((unsigned long)argc);
    v += recurse(5, v);
    report(v);
    return 0;
}

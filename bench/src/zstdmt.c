/* The benchmark captures' workload: zstd's multi-threaded compressor (the real library, from
 * the zstd-sys crate's vendored sources, built with frame pointers so that `perf record -g`
 * gets whole call chains) compressing a file in a loop.
 *
 *   zstdmt FILE LEVEL THREADS ROUNDS
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>
#include "zstd.h"

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: zstdmt FILE LEVEL THREADS ROUNDS\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *in = malloc(n);
    if (!in || fread(in, 1, n, f) != (size_t)n) { perror("read"); return 1; }
    fclose(f);
    size_t cap = ZSTD_compressBound(n);
    char *out = malloc(cap);
    ZSTD_CCtx *cx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, atoi(argv[2]));
    ZSTD_CCtx_setParameter(cx, ZSTD_c_nbWorkers, atoi(argv[3]));
    size_t total = 0;
    for (int r = 0; r < atoi(argv[4]); r++) {
        size_t z = ZSTD_compress2(cx, out, cap, in, n);
        if (ZSTD_isError(z)) { fprintf(stderr, "%s\n", ZSTD_getErrorName(z)); return 1; }
        total += z;
    }
    printf("%ld bytes -> %zu bytes per round\n", n, total / atoi(argv[4]));
    ZSTD_freeCCtx(cx);
    free(in);
    free(out);
    return 0;
}

/*
 * demo.c - the program behind the demo profile that stacklens opens for a new user.
 *
 * A toy build pipeline with the shapes real profiles have: a recursive-descent parser
 * (recursion of varying depth), a symbol table (hashing, string compares), sorting through
 * a merge sort calling a comparison function through a pointer, a small LZ compressor, and checksums on
 * two worker threads. Every hot function first calls enter() so gcc gives it a frame (see
 * hot.c for why), and the whole pipeline runs a fixed number of rounds.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

__attribute__((noinline)) void enter(void) { __asm__ volatile("" ::: "memory"); }

/* ---- input: a generated arithmetic program ---- */
static char *make_source(size_t n, uint64_t seed) {
    char *s = malloc(n + 1);
    uint64_t x = seed;
    size_t i = 0;
    int depth = 0;
    while (i < n) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(x >> 33) % 10;
        if (r < 2 && depth < 6 && i + 1 < n) {
            s[i++] = '(';
            depth++;
        } else if (r < 4 && depth > 0) {
            s[i++] = ')';
            depth--;
        } else if (r < 7) {
            s[i++] = 'a' + (char)((x >> 40) % 26);
        } else {
            s[i++] = "+-*/"[(x >> 45) % 4];
        }
    }
    s[n] = 0;
    return s;
}

/* ---- lexer ---- */
__attribute__((noinline)) int is_ident_char(char c) {
    enter();
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

__attribute__((noinline)) size_t next_token(const char *s, size_t i, size_t n) {
    enter();
    while (i < n && is_ident_char(s[i]))
        i++;
    return i + 1;
}

__attribute__((noinline)) size_t tokenize(const char *s, size_t n) {
    enter();
    size_t count = 0;
    for (size_t i = 0; i < n; i = next_token(s, i, n))
        count++;
    return count;
}

/* ---- parser: recursive descent over the parentheses ---- */
struct parser {
    const char *s;
    size_t i, n;
    uint64_t acc;
};

static uint64_t parse_expr(struct parser *p);

__attribute__((noinline)) uint64_t parse_factor(struct parser *p) {
    enter();
    if (p->i < p->n && p->s[p->i] == '(') {
        p->i++;
        uint64_t v = parse_expr(p);
        if (p->i < p->n && p->s[p->i] == ')')
            p->i++;
        return v * 31 + 7;
    }
    if (p->i < p->n && p->s[p->i] == ')')
        return 0; /* a missing operand: the caller's parenthesis ends here */
    uint64_t v = 0;
    for (int k = 0; k < 40; k++)
        v = v * 1099511628211ULL + (uint64_t)(p->i < p->n ? p->s[p->i] : 0) + (uint64_t)k;
    if (p->i < p->n)
        p->i++;
    return v;
}

__attribute__((noinline)) uint64_t parse_term(struct parser *p) {
    enter();
    uint64_t v = parse_factor(p);
    while (p->i < p->n && (p->s[p->i] == '*' || p->s[p->i] == '/')) {
        p->i++;
        v ^= parse_factor(p);
    }
    return v;
}

__attribute__((noinline)) uint64_t parse_expr(struct parser *p) {
    enter();
    uint64_t v = parse_term(p);
    while (p->i < p->n && p->s[p->i] != ')') {
        p->i++;
        v += parse_term(p);
    }
    return v;
}

__attribute__((noinline)) uint64_t parse(const char *s, size_t n) {
    enter();
    struct parser p = {s, 0, n, 0};
    uint64_t v = 0;
    while (p.i < p.n) {
        v += parse_expr(&p);
        p.i++;
    }
    return v;
}

/* ---- symbol table ---- */
#define TABLE 4096
static char names[TABLE][16];

__attribute__((noinline)) uint32_t hash_name(const char *s, size_t len) {
    enter();
    uint32_t h = 2166136261u;
    for (int r = 0; r < 8; r++)
        for (size_t i = 0; i < len; i++)
            h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

__attribute__((noinline)) int intern(const char *s, size_t len) {
    enter();
    uint32_t h = hash_name(s, len) % TABLE;
    for (int probe = 0; probe < 8; probe++) {
        uint32_t k = (h + probe) % TABLE;
        if (names[k][0] == 0) {
            memcpy(names[k], s, len < 15 ? len : 15);
            return (int)k;
        }
        if (strncmp(names[k], s, len < 15 ? len : 15) == 0)
            return (int)k;
    }
    return -1;
}

__attribute__((noinline)) uint64_t build_symbols(const char *s, size_t n) {
    enter();
    uint64_t found = 0;
    for (size_t i = 0; i + 6 < n; i += 3)
        found += (uint64_t)intern(s + i, 6);
    return found;
}

/* ---- sorting: a merge sort with a comparison callback ---- */
typedef int (*cmp_fn)(const void *, const void *);

__attribute__((noinline)) int compare_entries(const void *a, const void *b) {
    enter();
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

__attribute__((noinline)) void merge(uint64_t *v, uint64_t *tmp, size_t mid, size_t n, cmp_fn cmp) {
    enter();
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n)
        tmp[k++] = cmp(&v[i], &v[j]) <= 0 ? v[i++] : v[j++];
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

__attribute__((noinline)) void merge_sort(uint64_t *v, uint64_t *tmp, size_t n, cmp_fn cmp) {
    enter();
    if (n < 2)
        return;
    size_t mid = n / 2;
    merge_sort(v, tmp, mid, cmp);
    merge_sort(v + mid, tmp, n - mid, cmp);
    merge(v, tmp, mid, n, cmp);
}

__attribute__((noinline)) void sort_entries(uint64_t *v, uint64_t *tmp, size_t n, uint64_t seed) {
    enter();
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = seed >> 11;
    }
    merge_sort(v, tmp, n, compare_entries);
}

/* ---- compression ---- */
__attribute__((noinline)) size_t find_match(const char *s, size_t pos, size_t *len) {
    enter();
    size_t best = 0, best_len = 0;
    size_t start = pos > 256 ? pos - 256 : 0;
    for (size_t c = start; c < pos; c++) {
        size_t l = 0;
        while (l < 32 && s[c + l] == s[pos + l])
            l++;
        if (l > best_len) {
            best_len = l;
            best = c;
        }
    }
    *len = best_len;
    return best;
}

__attribute__((noinline)) size_t compress(const char *s, size_t n) {
    enter();
    size_t out = 0;
    for (size_t i = 0; i + 32 < n;) {
        size_t len;
        find_match(s, i, &len);
        i += len > 2 ? len : 1;
        out++;
    }
    return out;
}

/* ---- checksums on worker threads ---- */
__attribute__((noinline)) uint32_t crc32_block(const char *s, size_t n) {
    enter();
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint8_t)s[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

struct job {
    const char *name;
    const char *s;
    size_t n;
    int rounds;
};

__attribute__((noinline)) void *checksum_worker(void *arg) {
    enter();
    struct job *j = arg;
    pthread_setname_np(pthread_self(), j->name);
    uint32_t c = 0;
    for (int r = 0; r < j->rounds; r++)
        c ^= crc32_block(j->s, j->n);
    sink += c;
    return NULL;
}

/* ---- the pipeline ---- */
__attribute__((noinline)) void run_round(const char *src, size_t n, uint64_t *scratch, int r) {
    enter();
    sink += tokenize(src, n);
    sink += parse(src, n);
    sink += build_symbols(src, n);
    sort_entries(scratch, scratch + 60000, 60000, (uint64_t)r);
    sink += compress(src, n / 8);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    size_t n = 400000;
    char *src = make_source(n, 42);
    uint64_t *scratch = malloc(2 * 60000 * sizeof *scratch);
    struct job jobs[2] = {{"checksum-1", src, 100000, rounds * 10},
                          {"checksum-2", src + 100000, 100000, rounds * 10}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        pthread_create(&t[k], NULL, checksum_worker, &jobs[k]);
    for (int r = 0; r < rounds; r++)
        run_round(src, n, scratch, r);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    printf("%llu\n", (unsigned long long)sink);
    free(scratch);
    free(src);
    return 0;
}

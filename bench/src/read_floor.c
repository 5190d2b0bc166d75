// The floor for a parser of a mapped file: read every 8-byte word of FILE through one mmap on
// N threads (each a contiguous share), from the page cache.
//
//   gcc -O2 -pthread bench/src/read_floor.c -o /tmp/read_floor
//   cat FILE > /dev/null; /tmp/read_floor FILE 2
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static const uint64_t *words;
static size_t n_words;
static long n_threads;
static uint64_t sums[64];

static void *sum_share(void *arg) {
  long t = (long)arg;
  size_t from = n_words * t / n_threads, to = n_words * (t + 1) / n_threads;
  uint64_t s = 0;
  for (size_t i = from; i < to; i++) s += words[i];
  sums[t] = s;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s FILE THREADS\n", argv[0]);
    return 2;
  }
  n_threads = atol(argv[2]);
  if (n_threads < 1 || n_threads > 64) return 2;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return 1;
  words = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (words == MAP_FAILED) return 1;
  n_words = st.st_size / 8;
  pthread_t th[64];
  for (long t = 0; t < n_threads; t++) pthread_create(&th[t], NULL, sum_share, (void *)t);
  uint64_t s = 0;
  for (long t = 0; t < n_threads; t++) {
    pthread_join(th[t], NULL);
    s += sums[t];
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%ld threads: %.3f s (checksum %llx)\n", n_threads, secs, (unsigned long long)s);
  return 0;
}

/*
 * offcpu.c - a program that is off CPU a known share of its time, for the off-CPU capture.
 *
 *   thread "main"    N rounds of: burn() 5 ms of CPU, then nap() sleeps 5 ms
 *                    -> on CPU about half of its wall time, off CPU (in nanosleep) the other half
 *   thread "waiter"  blocks in wait_for_work() (read on a pipe) until main hands it a job every
 *                    fourth round, then burns 2 ms -> off CPU most of the time
 *
 * At exit it prints what each thread measured of itself (CPU time from
 * CLOCK_THREAD_CPUTIME_ID, wall time from CLOCK_MONOTONIC) to stderr: the reference the
 * off-CPU figures of a capture are checked against.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;
static int job_pipe[2];

static uint64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Spins until this thread has used `ms` milliseconds of CPU. */
__attribute__((noinline)) void burn(unsigned ms) {
    uint64_t until = now_ns(CLOCK_THREAD_CPUTIME_ID) + ms * 1000000ULL;
    uint64_t x = sink;
    while (now_ns(CLOCK_THREAD_CPUTIME_ID) < until) {
        for (int i = 0; i < 1000; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        }
    }
    sink = x;
}

__attribute__((noinline)) void nap(unsigned ms) {
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

__attribute__((noinline)) int wait_for_work(void) {
    char c;
    return read(job_pipe[0], &c, 1) == 1 ? c : 0;
}

static void report(const char *name, uint64_t wall0, uint64_t cpu0) {
    uint64_t wall = now_ns(CLOCK_MONOTONIC) - wall0;
    uint64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    fprintf(stderr, "%s wall_ns=%llu cpu_ns=%llu off_cpu_share=%.4f\n", name,
            (unsigned long long)wall, (unsigned long long)cpu,
            1.0 - (double)cpu / (double)wall);
}

static void *waiter_main(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "waiter");
    uint64_t wall0 = now_ns(CLOCK_MONOTONIC), cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    while (wait_for_work() == 'j') {
        burn(2);
    }
    report("waiter", wall0, cpu0);
    return NULL;
}

int main(int argc, char **argv) {
    unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 100;
    uint64_t wall0 = now_ns(CLOCK_MONOTONIC), cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    if (pipe(job_pipe) != 0) {
        perror("pipe");
        return 1;
    }
    pthread_t waiter;
    if (pthread_create(&waiter, NULL, waiter_main, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    for (unsigned r = 0; r < rounds; r++) {
        burn(5);
        if (r % 4 == 0 && write(job_pipe[1], "j", 1) != 1) {
            perror("write");
        }
        nap(5);
    }
    report("main", wall0, cpu0);
    if (write(job_pipe[1], "q", 1) != 1) {
        perror("write");
    }
    pthread_join(waiter, NULL);
    return 0;
}

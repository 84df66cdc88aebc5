/* How many flushes per second the device gives with K flushes in flight: K threads, each
 * looping pwrite of SIZE bytes at its own slots + fdatasync, on one shared file ("same", as
 * DurableLog's batches are) or on a file per thread ("separate"). With K = 1 and SIZE the
 * bytes of N records' frames this is the C model of DurableLog's cycle: one pwrite of the
 * N-record batch + one fdatasync, nothing else. The files exist, zero-filled and flushed (the
 * caller prepares them), so no flush changes a size or an extent.
 * OPS is a count per thread ("300"), or a duration each thread loops for ("0.5s"), so that a
 * device a thousand times faster than another is measured for as long.
 * Prints one JSON line: elapsed seconds, flushes per second, latency quantiles (microseconds),
 * and the CPU time (user + system, every thread) per flush: what the cycle costs the CPU.
 *   usage: inflight_fdatasync same|separate K OPS|SECONDSs SIZE FILE...   (one FILE for same, K for separate) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long ops, size;
static double seconds; /* > 0: loop until this long has passed, instead of OPS times */
static double deadline;

struct worker {
  int fd;
  long index;
  long k;
  double* samples;
  long count;
  long capacity;
};

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void* run(void* arg) {
  struct worker* w = arg;
  char* buffer = malloc((size_t)size);
  if (!buffer) return (void*)1;
  memset(buffer, 0x5a, (size_t)size);
  for (long i = 0; seconds > 0 || i < ops; i++) {
    if (seconds > 0 && (i & 7) == 0 && now_us() >= deadline) break;
    if (w->count == w->capacity) {
      w->capacity = w->capacity * 2 + 1024;
      w->samples = realloc(w->samples, sizeof(double) * (size_t)w->capacity);
      if (!w->samples) return (void*)1;
    }
    /* Thread t writes slot t, t+K, t+2K, ... cycling over 64 slots per thread: back to back
     * with the other threads' writes in the same file, as consecutive batches are. */
    off_t at = (off_t)(((i % 64) * w->k + w->index) * size);
    double start = now_us();
    if (pwrite(w->fd, buffer, (size_t)size, at) != size || fdatasync(w->fd) != 0) {
      perror("pwrite/fdatasync");
      return (void*)1;
    }
    w->samples[w->count++] = now_us() - start;
  }
  free(buffer);
  return NULL;
}

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s same|separate K OPS|SECONDSs SIZE FILE...\n", argv[0]);
    return 2;
  }
  int same = strcmp(argv[1], "same") == 0;
  long k = atol(argv[2]);
  size_t ops_length = strlen(argv[3]);
  if (ops_length > 1 && argv[3][ops_length - 1] == 's') {
    seconds = atof(argv[3]);
    ops = 0;
  } else {
    ops = atol(argv[3]);
  }
  size = atol(argv[4]);
  if (k < 1 || (ops < 1 && !(seconds > 0)) || size < 1 || argc != 5 + (same ? 1 : k)) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  pthread_t* threads = calloc((size_t)k, sizeof(pthread_t));
  struct worker* workers = calloc((size_t)k, sizeof(struct worker));
  int shared = same ? open(argv[5], O_RDWR | O_CLOEXEC) : -1;
  for (long t = 0; t < k; t++) {
    workers[t].fd = same ? shared : open(argv[5 + t], O_RDWR | O_CLOEXEC);
    workers[t].index = t;
    workers[t].k = k;
    if (workers[t].fd < 0) {
      perror("open");
      return 1;
    }
  }
  double start = now_us();
  deadline = start + seconds * 1e6;
  for (long t = 0; t < k; t++) pthread_create(&threads[t], NULL, run, &workers[t]);
  for (long t = 0; t < k; t++) {
    void* result;
    pthread_join(threads[t], &result);
    if (result != NULL) return 1;
  }
  double elapsed = (now_us() - start) / 1e6;
  long n = 0;
  for (long t = 0; t < k; t++) n += workers[t].count;
  double* samples = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (!samples || n == 0) return 1;
  for (long t = 0, at = 0; t < k; at += workers[t].count, t++) memcpy(samples + at, workers[t].samples, sizeof(double) * (size_t)workers[t].count);
  qsort(samples, (size_t)n, sizeof(double), compare);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu_us = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 + (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  printf("{\"mode\":\"%s\",\"k\":%ld,\"size\":%ld,\"flushes\":%ld,\"seconds\":%.4f,\"flushesPerSec\":%.1f,\"p50\":%.2f,\"p99\":%.2f,\"cpuUsPerFlush\":%.3f}\n", argv[1], k,
         size, n, elapsed, (double)n / elapsed, samples[n / 2], samples[(long)(n * 0.99)], cpu_us / (double)n);
  return 0;
}

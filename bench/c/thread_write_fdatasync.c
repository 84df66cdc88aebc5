/* The floor of a thread engine (hardsync's flush threads, libuv's threadpool) for
 * bench/engines.ts and bench/callpath.ts: what write_fdatasync.c does (SIZE bytes at slot
 * i % SLOTS, then fdatasync, OPS times), but the way a program that must not block its main
 * thread does it: the main thread hands each write to a worker thread (a mutex and a condition
 * variable, as std::condition_variable and uv_cond are) and waits for the result on an eventfd
 * watched with epoll (as uv_async_send wakes an event loop). No Node, no JavaScript: the
 * difference between this and write_fdatasync.c is the two thread wake-ups any such design
 * pays; the difference between hardsync's thread engines and this is hardsync's own.
 * One latency in microseconds per line.   usage: thread_write_fdatasync FILE OPS SIZE SLOTS */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static long pending = -1; /* the slot to write, -1 when there is nothing to do */
static int fd, event;
static long size;
static char* buffer;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void* worker(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (pending < 0) pthread_cond_wait(&ready, &lock);
    long slot = pending;
    pending = -1;
    pthread_mutex_unlock(&lock);
    uint64_t result = 1;
    if (pwrite(fd, buffer, (size_t)size, (off_t)(slot * size)) != size || fdatasync(fd) != 0) result = 2;
    if (write(event, &result, sizeof result) != sizeof result) abort();
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s FILE OPS SIZE SLOTS\n", argv[0]);
    return 2;
  }
  long ops = atol(argv[2]), slots = atol(argv[4]);
  size = atol(argv[3]);
  fd = open(argv[1], O_RDWR | O_CLOEXEC);
  if (fd < 0 || ops <= 0 || size <= 0 || slots <= 0) {
    perror("open");
    return 1;
  }
  buffer = malloc((size_t)size);
  double* samples = malloc(sizeof(double) * (size_t)ops);
  if (!buffer || !samples) return 1;
  memset(buffer, 0x5a, (size_t)size);
  event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int poller = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event watch = {.events = EPOLLIN};
  if (event < 0 || poller < 0 || epoll_ctl(poller, EPOLL_CTL_ADD, event, &watch) != 0) {
    perror("eventfd/epoll");
    return 1;
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, worker, NULL) != 0) return 1;
  for (long i = 0; i < ops; i++) {
    double start = now_us();
    pthread_mutex_lock(&lock);
    pending = i % slots;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
    uint64_t result = 0;
    for (;;) {
      struct epoll_event fired;
      if (epoll_wait(poller, &fired, 1, -1) < 0 && errno != EINTR) {
        perror("epoll_wait");
        return 1;
      }
      if (read(event, &result, sizeof result) == sizeof result) break;
    }
    if (result != 1) {
      perror("pwrite/fdatasync");
      return 1;
    }
    samples[i] = now_us() - start;
  }
  for (long i = 0; i < ops; i++) printf("%.3f\n", samples[i]);
  return 0;
}

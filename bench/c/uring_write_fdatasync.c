/* The io_uring floor for bench/engines.ts: what write_fdatasync.c does (SIZE bytes at slot
 * i % SLOTS, then a data flush, OPS times), but through io_uring the way hardsync's io_uring
 * engine does it: IORING_OP_WRITE linked to IORING_OP_FSYNC(IORING_FSYNC_DATASYNC), the
 * completion awaited through an eventfd registered with the ring and watched with epoll (the
 * event loop's wait). No Node, no JavaScript: the difference between this and
 * write_fdatasync.c is the kernel's own cost of the io_uring route (the flush is handed to an
 * io-wq worker, the completion wakes the waiting thread). One latency in microseconds per
 * line.   usage: uring_write_fdatasync FILE OPS SIZE SLOTS   (Linux 5.6+) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* The next submission queue entry, zeroed and placed in the ring's index array at *tail. */
static struct io_uring_sqe* claim_sqe(struct io_uring_sqe* sqes, unsigned* sq_array, unsigned sq_mask, unsigned* tail) {
  unsigned slot = *tail & sq_mask;
  sq_array[slot] = slot;
  (*tail)++;
  memset(&sqes[slot], 0, sizeof sqes[slot]);
  return &sqes[slot];
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s FILE OPS SIZE SLOTS\n", argv[0]);
    return 2;
  }
  long ops = atol(argv[2]), size = atol(argv[3]), slots = atol(argv[4]);
  int fd = open(argv[1], O_RDWR | O_CLOEXEC);
  if (fd < 0 || ops <= 0 || size <= 0 || slots <= 0) {
    perror("open");
    return 1;
  }
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int ring = (int)syscall(__NR_io_uring_setup, 8, &p);
  if (ring < 0) {
    perror("io_uring_setup");
    return 1;
  }
  size_t ring_bytes = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_bytes = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (cq_bytes > ring_bytes) ring_bytes = cq_bytes;
  char* rings = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  struct io_uring_sqe* sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  if (rings == MAP_FAILED || sqes == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  unsigned* sq_tail = (unsigned*)(rings + p.sq_off.tail);
  unsigned sq_mask = *(unsigned*)(rings + p.sq_off.ring_mask);
  unsigned* sq_array = (unsigned*)(rings + p.sq_off.array);
  unsigned* cq_head = (unsigned*)(rings + p.cq_off.head);
  unsigned* cq_tail = (unsigned*)(rings + p.cq_off.tail);
  unsigned cq_mask = *(unsigned*)(rings + p.cq_off.ring_mask);
  struct io_uring_cqe* cqes = (struct io_uring_cqe*)(rings + p.cq_off.cqes);

  int event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int poller = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event watch = {.events = EPOLLIN};
  if (event < 0 || poller < 0 || syscall(__NR_io_uring_register, ring, IORING_REGISTER_EVENTFD, &event, 1) != 0 ||
      epoll_ctl(poller, EPOLL_CTL_ADD, event, &watch) != 0) {
    perror("eventfd/epoll");
    return 1;
  }

  char* buffer = malloc((size_t)size);
  double* samples = malloc(sizeof(double) * (size_t)ops);
  if (!buffer || !samples) return 1;
  memset(buffer, 0x5a, (size_t)size);
  unsigned tail = 0;
  for (long i = 0; i < ops; i++) {
    double start = now_us();
    struct io_uring_sqe* write = claim_sqe(sqes, sq_array, sq_mask, &tail);
    write->opcode = IORING_OP_WRITE;
    write->fd = fd;
    write->addr = (uintptr_t)buffer;
    write->len = (unsigned)size;
    write->off = (uint64_t)((i % slots) * size);
    write->flags = IOSQE_IO_LINK;
    struct io_uring_sqe* flush = claim_sqe(sqes, sq_array, sq_mask, &tail);
    flush->opcode = IORING_OP_FSYNC;
    flush->fd = fd;
    flush->fsync_flags = IORING_FSYNC_DATASYNC;
    __atomic_store_n(sq_tail, tail, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, ring, 2, 0, 0, NULL, 0) != 2) {
      perror("io_uring_enter");
      return 1;
    }
    for (int seen = 0; seen < 2;) {
      struct epoll_event ready;
      if (epoll_wait(poller, &ready, 1, -1) < 0 && errno != EINTR) {
        perror("epoll_wait");
        return 1;
      }
      uint64_t count;
      if (read(event, &count, sizeof count) < 0 && errno != EAGAIN) return 1;
      unsigned head = *cq_head, end = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE);
      for (; head != end; head++, seen++) {
        if (cqes[head & cq_mask].res < 0) {
          fprintf(stderr, "io_uring: %s\n", strerror(-cqes[head & cq_mask].res));
          return 1;
        }
      }
      __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    }
    samples[i] = now_us() - start;
  }
  for (long i = 0; i < ops; i++) printf("%.3f\n", samples[i]);
  close(fd);
  return 0;
}

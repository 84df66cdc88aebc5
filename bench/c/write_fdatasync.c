/* The reference for the core benchmark: pwrite + fdatasync of SIZE bytes, OPS times, cycling
 * over SLOTS slots of an existing (preallocated, flushed) file; one latency in microseconds
 * per line on stdout, from CLOCK_MONOTONIC. No Node, no threadpool: the floor a binding can
 * approach.   usage: write_fdatasync FILE OPS SIZE SLOTS */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
  char* buffer = malloc((size_t)size);
  double* samples = malloc(sizeof(double) * (size_t)ops);
  if (!buffer || !samples) return 1;
  memset(buffer, 0x5a, (size_t)size);
  for (long i = 0; i < ops; i++) {
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    off_t at = (off_t)((i % slots) * size);
    if (pwrite(fd, buffer, (size_t)size, at) != size || fdatasync(fd) != 0) {
      perror("pwrite/fdatasync");
      return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    samples[i] = (double)(end.tv_sec - start.tv_sec) * 1e6 + (double)(end.tv_nsec - start.tv_nsec) / 1e3;
  }
  for (long i = 0; i < ops; i++) printf("%.3f\n", samples[i]);
  close(fd);
  return 0;
}

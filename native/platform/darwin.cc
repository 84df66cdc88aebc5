// macOS. The facts this file is built on (see DESIGN.md):
// - fsync(2) hands data to the drive but does NOT flush the drive's write cache. F_FULLFSYNC
//   does; F_BARRIERFSYNC only orders writes (an I/O barrier), it is not a flush.
// - fdatasync is not a documented call on macOS: fdatasync() here is fsync(2).
// - Some filesystems (SMB, FAT, some FUSE) refuse F_FULLFSYNC with ENOTSUP: fullFsync then
//   fails with that error. No silent fallback to a weaker call (node:fs does fall back).
// - F_NOCACHE after open is the O_DIRECT equivalent; there is no O_DIRECT flag.
// - No sync_file_range, no syncfs: those report ERR_HARDSYNC_UNSUPPORTED.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"

namespace hs {

static Status Fcntl(int fd, int command, int argument) {
  int rc;
  do rc = ::fcntl(fd, command, argument); while (rc == -1 && errno == EINTR);
  return rc == -1 ? Fail(-errno, "fcntl") : Ok();
}

Status Fdatasync(int fd) { return Fsync(fd); }
Status FullFsync(int fd) { return Fcntl(fd, F_FULLFSYNC, 0); }
Status BarrierFsync(int fd) { return Fcntl(fd, F_BARRIERFSYNC, 0); }

Status SyncFileRange(int, int64_t, int64_t, unsigned) {
  return Fail(kUnsupported, "sync_file_range");
}
Status Syncfs(int) { return Fail(kUnsupported, "syncfs"); }

Status Preallocate(int fd, int64_t offset, int64_t length) {
  // F_PREALLOCATE reserves blocks but never changes the size; ftruncate then makes the file
  // at least offset+length long, as fallocate(2) mode 0 does on Linux.
  struct stat st;
  if (::fstat(fd, &st) != 0) return Fail(-errno, "fstat");
  int64_t end = offset + length;
  if (end > st.st_size) {
    fstore_t store = {F_ALLOCATECONTIG | F_ALLOCATEALL, F_PEOFPOSMODE, 0, end - st.st_size, 0};
    if (::fcntl(fd, F_PREALLOCATE, &store) == -1) {
      store.fst_flags = F_ALLOCATEALL;  // contiguous space is a wish, not a need
      if (::fcntl(fd, F_PREALLOCATE, &store) == -1) return Fail(-errno, "fcntl");
    }
    if (::ftruncate(fd, end) != 0) return Fail(-errno, "ftruncate");
  }
  return Ok();
}

int OsOpenFlags(const OpenRequest&) { return 0; }

Status OsAfterOpen(int fd, const OpenRequest& request) {
  return request.direct ? Fcntl(fd, F_NOCACHE, 1) : Ok();
}

Status GetDioAlignment(int fd, const char* path, DioAlignment* out) {
  // F_NOCACHE has no alignment rule of its own; aligned transfers avoid the cache entirely.
  struct stat st;
  int rc = fd >= 0 ? ::fstat(fd, &st) : ::stat(path, &st);
  if (rc != 0) return Fail(-errno, fd >= 0 ? "fstat" : "stat");
  out->memory = DefaultDioAlignment();
  out->offset = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : DefaultDioAlignment();
  out->source = "st_blksize (macOS has no direct-I/O alignment query)";
  return Ok();
}

static const Capability kCapabilities[] = {
    {"fsync", true, "fsync(2) (does not flush the drive cache on macOS)", Durability::kNotDurable},
    {"fdatasync", true, "fsync(2) (macOS has no documented fdatasync)", Durability::kNotDurable},
    {"fullFsync", true, "fcntl(F_FULLFSYNC)", Durability::kDurable},
    {"barrierFsync", true, "fcntl(F_BARRIERFSYNC) (orders writes, flushes no cache)", Durability::kNotDurable},
    {"syncFileRange", false, "none", Durability::kNotDurable},
    {"syncfs", false, "none", Durability::kNotDurable},
    {"fsyncDir", true, "open(O_RDONLY|O_DIRECTORY) + fsync(2)", Durability::kNotDurable},
    {"open", true, "open(2) with O_CLOEXEC", Durability::kNotAFlush},
    {"openDsync", true, "open(2) with O_DSYNC (does not flush the drive cache)", Durability::kNotDurable},
    {"openSync", true, "open(2) with O_SYNC", Durability::kNotDurable},
    {"openDirect", true, "open(2) + fcntl(F_NOCACHE)", Durability::kNotDurable},
    {"preallocate", true, "fcntl(F_PREALLOCATE) + ftruncate(2)", Durability::kNotAFlush},
    {"writeDurable", true, "pwrite(2) loop + the chosen flush", Durability::kNotAFlush},
    {"replaceFile", true, "rename(2)", Durability::kNotAFlush},
    {"dioAlignment", true, "st_blksize", Durability::kNotAFlush},
    {"lockFile", true, "flock(2)", Durability::kNotAFlush},
};

const Capability* Capabilities(size_t* count) {
  *count = sizeof kCapabilities / sizeof kCapabilities[0];
  return kCapabilities;
}

static const NamedConstant kConstants[] = {
    {"O_RDONLY", O_RDONLY}, {"O_WRONLY", O_WRONLY}, {"O_RDWR", O_RDWR},
    {"O_CREAT", O_CREAT}, {"O_EXCL", O_EXCL}, {"O_TRUNC", O_TRUNC},
    {"O_APPEND", O_APPEND}, {"O_CLOEXEC", O_CLOEXEC}, {"O_NOFOLLOW", O_NOFOLLOW},
    {"O_DIRECTORY", O_DIRECTORY}, {"O_DSYNC", O_DSYNC}, {"O_SYNC", O_SYNC},
    {"O_DIRECT", 0},
    {"SYNC_FILE_RANGE_WAIT_BEFORE", 0}, {"SYNC_FILE_RANGE_WRITE", 0},
    {"SYNC_FILE_RANGE_WAIT_AFTER", 0},
    {"F_FULLFSYNC", F_FULLFSYNC}, {"F_BARRIERFSYNC", F_BARRIERFSYNC}, {"F_NOCACHE", F_NOCACHE},
};

const NamedConstant* Constants(size_t* count) {
  *count = sizeof kConstants / sizeof kConstants[0];
  return kConstants;
}

const char* PlatformName() { return "darwin"; }

}  // namespace hs

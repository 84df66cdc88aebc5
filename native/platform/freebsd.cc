// FreeBSD: fdatasync(2) exists (since 11.1), O_DIRECT exists, posix_fallocate(2) is a real
// syscall. fsync(2) on UFS/ZFS issues a cache flush, so fullFsync is fsync. No
// sync_file_range, no syncfs.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"

namespace hs {

Status Fdatasync(int fd) {
  int rc;
  do rc = ::fdatasync(fd); while (rc == -1 && errno == EINTR);
  return rc == 0 ? Ok() : Fail(-errno, "fdatasync");
}

Status FullFsync(int fd) { return Fsync(fd); }
Status BarrierFsync(int fd) { return Fdatasync(fd); }

Status SyncFileRange(int, int64_t, int64_t, unsigned) {
  return Fail(kUnsupported, "sync_file_range");
}
Status Syncfs(int) { return Fail(kUnsupported, "syncfs"); }

Status Preallocate(int fd, int64_t offset, int64_t length) {
  int err;
  do err = ::posix_fallocate(fd, offset, length); while (err == EINTR);
  return err == 0 ? Ok() : Fail(-err, "posix_fallocate");
}

int OsOpenFlags(const OpenRequest& request) { return request.direct ? O_DIRECT : 0; }
Status OsAfterOpen(int, const OpenRequest&) { return Ok(); }

Status GetDioAlignment(int fd, const char* path, DioAlignment* out) {
  struct stat st;
  int rc = fd >= 0 ? ::fstat(fd, &st) : ::stat(path, &st);
  if (rc != 0) return Fail(-errno, fd >= 0 ? "fstat" : "stat");
  out->memory = DefaultDioAlignment();
  out->offset = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : 512;
  out->source = "st_blksize (FreeBSD has no direct-I/O alignment query)";
  return Ok();
}

static const Capability kCapabilities[] = {
    {"fsync", true, "fsync(2)", Durability::kDurable},
    {"fdatasync", true, "fdatasync(2)", Durability::kDurable},
    {"fullFsync", true, "fsync(2)", Durability::kDurable},
    {"barrierFsync", true, "fdatasync(2) (no ordering-only flush)", Durability::kDurable},
    {"syncFileRange", false, "none", Durability::kNotDurable},
    {"syncfs", false, "none", Durability::kNotDurable},
    {"fsyncDir", true, "open(O_RDONLY|O_DIRECTORY) + fsync(2)", Durability::kDurable},
    {"open", true, "open(2) with O_CLOEXEC", Durability::kNotAFlush},
    {"openDsync", true, "open(2) with O_DSYNC", Durability::kDurable},
    {"openSync", true, "open(2) with O_SYNC", Durability::kDurable},
    {"openDirect", true, "open(2) with O_DIRECT", Durability::kNotDurable},
    {"preallocate", true, "posix_fallocate(2)", Durability::kNotAFlush},
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
    {"O_DIRECT", O_DIRECT},
    {"SYNC_FILE_RANGE_WAIT_BEFORE", 0}, {"SYNC_FILE_RANGE_WRITE", 0},
    {"SYNC_FILE_RANGE_WAIT_AFTER", 0},
    {"F_FULLFSYNC", 0}, {"F_BARRIERFSYNC", 0}, {"F_NOCACHE", 0},
};

const NamedConstant* Constants(size_t* count) {
  *count = sizeof kConstants / sizeof kConstants[0];
  return kConstants;
}

const char* PlatformName() { return "freebsd"; }

}  // namespace hs

// Linux: fdatasync, sync_file_range, syncfs, fallocate, O_DIRECT and statx(STATX_DIOALIGN).
// On Linux fsync(2) already asks the device to flush its write cache (the filesystem issues a
// cache flush / FUA), so fullFsync is fsync and barrierFsync is fdatasync (the table in
// linux.h, which io_uring reads too): no weaker call is ever substituted silently, and
// capabilities() names what each export runs.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "linux.h"
#include "posix.h"

namespace hs {

Status Fdatasync(int fd) {
  return Syscall(LinuxFlushSyscall(LinuxFlushCall::kFdatasync), [&] { return ::fdatasync(fd); });
}

Status Syncfs(int fd) {
  return Syscall(LinuxFlushSyscall(LinuxFlushCall::kSyncfs), [&] { return ::syncfs(fd); });
}

// A flush kind as linux.h maps it.
static Status RunLinuxFlush(int fd, FlushKind kind) {
  switch (LinuxFlushCallOf(kind)) {
    case LinuxFlushCall::kNothing: return Ok();
    case LinuxFlushCall::kFsync: return Fsync(fd);
    case LinuxFlushCall::kFdatasync: return Fdatasync(fd);
    case LinuxFlushCall::kSyncfs: return Syncfs(fd);
  }
  return Fail(kUnsupported, "unknown flush kind");
}

Status FullFsync(int fd) { return RunLinuxFlush(fd, FlushKind::kFull); }
Status BarrierFsync(int fd) { return RunLinuxFlush(fd, FlushKind::kBarrier); }

Status SyncFileRange(int fd, int64_t offset, int64_t nbytes, unsigned flags) {
  return Syscall("sync_file_range", [&] { return ::sync_file_range(fd, offset, nbytes, flags); });
}

Status Preallocate(int fd, int64_t offset, int64_t length) {
  int rc = RetryOnEintr([&] { return ::fallocate(fd, 0, offset, length); });
  if (rc == 0) return Ok();
  if (errno != EOPNOTSUPP) return Checked(rc, "fallocate");
  // The filesystem has no fallocate (e.g. some FUSE or network filesystems): glibc's
  // posix_fallocate writes a byte per block instead. It returns the error, not -1/errno.
  int err = RetryNumberOnEintr([&] { return ::posix_fallocate(fd, offset, length); });
  return CheckedNumber(err, "posix_fallocate");
}

int OsOpenFlags(const OpenRequest& request) { return request.direct ? O_DIRECT : 0; }

Status OsAfterOpen(int, const OpenRequest&) { return Ok(); }

// Logical block size of the block device behind st_dev, from sysfs. A partition's own
// directory has no queue/, its parent disk's does.
static uint32_t SysfsLogicalBlockSize(dev_t dev) {
  char path[128];
  const char* patterns[] = {"/sys/dev/block/%u:%u/queue/logical_block_size",
                            "/sys/dev/block/%u:%u/../queue/logical_block_size"};
  for (const char* pattern : patterns) {
    snprintf(path, sizeof path, pattern, major(dev), minor(dev));
    FILE* file = fopen(path, "re");
    if (file == nullptr) continue;
    unsigned value = 0;
    int matched = fscanf(file, "%u", &value);
    fclose(file);
    if (matched == 1 && value > 0) return value;
  }
  return 0;
}

Status GetDioAlignment(int fd, const char* path, DioAlignment* out) {
  struct statx stx;
  int rc = fd >= 0 ? ::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx)
                   : ::statx(AT_FDCWD, path, 0, STATX_DIOALIGN, &stx);
  if (rc != 0 && errno != ENOSYS) return Checked(rc, "statx");
  if (rc == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
    // 0/0 here means the file cannot be opened with O_DIRECT at all (tmpfs, for one).
    out->memory = stx.stx_dio_mem_align;
    out->offset = stx.stx_dio_offset_align;
    out->source = "statx(STATX_DIOALIGN)";
    return Ok();
  }
  struct stat st;
  rc = fd >= 0 ? ::fstat(fd, &st) : ::stat(path, &st);
  if (rc != 0) return Checked(rc, fd >= 0 ? "fstat" : "stat");
  uint32_t block = SysfsLogicalBlockSize(st.st_dev);
  if (block != 0) {
    out->memory = block;
    out->offset = block;
    out->source = "sysfs queue/logical_block_size";
  } else {
    out->memory = DefaultDioAlignment();
    out->offset = DefaultDioAlignment();
    out->source = "page size (no statx or sysfs figure)";
  }
  return Ok();
}

static constexpr Capability kCapabilities[] = {
    {CapabilityId::kFsync, true, "fsync(2)", Durability::kDurable},
    {CapabilityId::kFdatasync, true, "fdatasync(2)", Durability::kDurable},
    {CapabilityId::kFullFsync, true, "fsync(2) (Linux fsync already flushes the device write cache)", Durability::kDurable},
    {CapabilityId::kBarrierFsync, true, "fdatasync(2) (Linux has no ordering-only flush)", Durability::kDurable},
    {CapabilityId::kSyncFileRange, true, "sync_file_range(2) (writeback hint: no metadata, no cache flush)", Durability::kNotDurable},
    {CapabilityId::kSyncfs, true, "syncfs(2)", Durability::kDurable},
    {CapabilityId::kFsyncDir, true, "open(O_RDONLY|O_DIRECTORY) + fsync(2)", Durability::kDurable},
    kPosixOpen,
    {CapabilityId::kOpenDsync, true, "open(2) with O_DSYNC", Durability::kDurable},
    {CapabilityId::kOpenSync, true, "open(2) with O_SYNC", Durability::kDurable},
    {CapabilityId::kOpenDirect, true, "open(2) with O_DIRECT", Durability::kNotDurable},
    {CapabilityId::kPreallocate, true, "fallocate(2), posix_fallocate(3) where unsupported", Durability::kNotAFlush},
    kPosixWriteDurable,
    kPosixReplaceFile,
    {CapabilityId::kDioAlignment, true, "statx(STATX_DIOALIGN), else sysfs logical_block_size", Durability::kNotAFlush},
    kPosixLockFile,
};

static constexpr NamedConstant kConstants[] = {
    HS_POSIX_OPEN_CONSTANTS,
    {ConstantId::kO_DIRECT, O_DIRECT},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WAIT_BEFORE},
    {ConstantId::kSYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WRITE},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_AFTER, SYNC_FILE_RANGE_WAIT_AFTER},
    {ConstantId::kF_FULLFSYNC, 0},
    {ConstantId::kF_BARRIERFSYNC, 0},
    {ConstantId::kF_NOCACHE, 0},
};

HS_PLATFORM_TABLES(kCapabilities, kConstants)

const char* PlatformName() { return "linux"; }

}  // namespace hs

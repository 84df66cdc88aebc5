// macOS. The facts this file is built on, as Apple's published sources state them (xnu's
// bsd/kern/kern_descrip.c, bsd/vfs/vfs_syscalls.c, bsd/vfs/vfs_vnops.c, bsd/man/man2/fcntl.2;
// docs/ARCHITECTURE.md, "The storage facts the design respects"):
// - fsync(2) hands the file to the drive but does NOT flush the drive's write cache. F_FULLFSYNC
//   does (fsync, then the filesystem's journal, then a cache flush of the device).
// - F_BARRIERFSYNC is fsync plus a barrier: writes before it reach the media before writes after
//   it, and nothing is promised durable. Where the filesystem has no barrier the kernel runs
//   F_FULLFSYNC instead, so it is sometimes a full flush, never one to count on.
// - fdatasync: the kernel has one (data integrity, like fsync without the timestamps) and
//   libSystem exports it, but no SDK header declares it and no man page documents it, and it
//   flushes no drive cache either: fdatasync() here is fsync(2), the documented call.
// - O_DSYNC is treated as O_SYNC by the kernel (every write is IO_SYNC); neither flushes the
//   drive's cache.
// - A filesystem without F_FULLFSYNC (F_FULLFSYNC exists on HFS+, APFS, FAT, UDF) answers
//   ENOTSUP, ENOTTY or EINVAL: fullFsync then fails with that error. No silent fallback to a
//   weaker call (node:fs does fall back).
// - F_NOCACHE (on the open file description, so on every dup of the fd) is the O_DIRECT
//   equivalent; there is no O_DIRECT flag. Unaligned transfers still go through the cache.
// - No sync_file_range, no syncfs: those report ERR_HARDSYNC_UNSUPPORTED.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <unistd.h>

#include "posix.h"

namespace hs {

static Status Fcntl(int fd, int command, int argument) {
  return Syscall("fcntl", [&] { return ::fcntl(fd, command, argument); });
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
  // at least offset+length long, as fallocate(2) mode 0 does on Linux. Its only file-relative
  // mode, F_PEOFPOSMODE, allocates fst_length bytes from the end of what the file already has
  // allocated (fst_offset must be 0), so holes inside the file stay holes, unlike Linux. Space
  // reserved past the end of the file is freed at close (no F_ALLOCATEPERSIST): the ftruncate
  // puts it inside the file. With F_ALLOCATEALL it is all of it or an error, never less.
  // Each call is retried on EINTR, as every call in the POSIX platform files is (posix.h).
  struct stat st;
  Status status = Syscall("fstat", [&] { return ::fstat(fd, &st); });
  if (!status.ok()) return status;
  int64_t end = offset + length;
  if (end > st.st_size) {
    fstore_t store = {F_ALLOCATECONTIG | F_ALLOCATEALL, F_PEOFPOSMODE, 0, end - st.st_size, 0};
    if (RetryOnEintr([&] { return ::fcntl(fd, F_PREALLOCATE, &store); }) == -1) {
      store.fst_flags = F_ALLOCATEALL;  // contiguous space is a wish, not a need
      status = Syscall("fcntl", [&] { return ::fcntl(fd, F_PREALLOCATE, &store); });
      if (!status.ok()) return status;
    }
    return Syscall("ftruncate", [&] { return ::ftruncate(fd, end); });
  }
  return Ok();
}

Status OsMapFlags(int, bool sync, int* flags) {
  if (sync) return Fail(kUnsupported, "mmap with MAP_SYNC");
  *flags = MAP_SHARED;
  return Ok();
}

// msync(MS_SYNC) writes the pages to the drive but, like fsync(2), leaves them in its cache:
// the file's F_FULLFSYNC follows.
bool OsMsyncNeedsFileFlush() { return true; }
Status OsFlushMappedFile(int fd) { return FullFsync(fd); }

int OsOpenFlags(const OpenRequest&) { return 0; }

Status OsAfterOpen(int fd, const OpenRequest& request) {
  return request.direct ? Fcntl(fd, F_NOCACHE, 1) : Ok();
}

Status GetDioAlignment(int fd, const char* path, DioAlignment* out) {
  // F_NOCACHE has no alignment rule of its own; aligned transfers avoid the cache entirely.
  struct stat st;
  int rc = fd >= 0 ? ::fstat(fd, &st) : ::stat(path, &st);
  if (rc != 0) return Checked(rc, fd >= 0 ? "fstat" : "stat");
  out->memory = DefaultDioAlignment();
  out->offset = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : DefaultDioAlignment();
  out->source = "st_blksize (macOS has no direct-I/O alignment query)";
  return Ok();
}

static constexpr Capability kCapabilities[] = {
    {CapabilityId::kFsync, true, "fsync(2) (does not flush the drive cache on macOS)", Durability::kNotDurable},
    {CapabilityId::kFdatasync, true, "fsync(2) (macOS has no documented fdatasync)", Durability::kNotDurable},
    {CapabilityId::kFullFsync, true, "fcntl(F_FULLFSYNC)", Durability::kDurable},
    {CapabilityId::kBarrierFsync, true, "fcntl(F_BARRIERFSYNC) (orders writes; a full flush only where the filesystem has no barrier)", Durability::kNotDurable},
    {CapabilityId::kSyncFileRange, false, "none", Durability::kNotDurable},
    {CapabilityId::kSyncfs, false, "none", Durability::kNotDurable},
    {CapabilityId::kFsyncDir, true, "open(O_RDONLY|O_DIRECTORY) + fsync(2)", Durability::kNotDurable},
    kPosixOpen,
    {CapabilityId::kOpenDsync, true, "open(2) with O_DSYNC (the kernel runs it as O_SYNC; does not flush the drive cache)", Durability::kNotDurable},
    {CapabilityId::kOpenSync, true, "open(2) with O_SYNC (does not flush the drive cache)", Durability::kNotDurable},
    {CapabilityId::kOpenDirect, true, "open(2) + fcntl(F_NOCACHE)", Durability::kNotDurable},
    {CapabilityId::kPreallocate, true, "fcntl(F_PREALLOCATE, F_PEOFPOSMODE) + ftruncate(2) (holes inside the file stay holes)", Durability::kNotAFlush},
    kPosixWriteDurable,
    kPosixReplaceFile,
    {CapabilityId::kDioAlignment, true, "st_blksize", Durability::kNotAFlush},
    kPosixLockFile,
    kPosixMapFile,
    {CapabilityId::kMsync, true, "msync(2) MS_SYNC + fcntl(F_FULLFSYNC) (msync alone leaves the drive cache unflushed)",
     Durability::kDurable},
    {CapabilityId::kMapSync, false, "none (MAP_SYNC is Linux's)", Durability::kNotAFlush},
};

static constexpr NamedConstant kConstants[] = {
    HS_POSIX_OPEN_CONSTANTS,
    {ConstantId::kO_DIRECT, 0},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_BEFORE, 0}, {ConstantId::kSYNC_FILE_RANGE_WRITE, 0},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_AFTER, 0},
    {ConstantId::kF_FULLFSYNC, F_FULLFSYNC}, {ConstantId::kF_BARRIERFSYNC, F_BARRIERFSYNC}, {ConstantId::kF_NOCACHE, F_NOCACHE},
};

HS_PLATFORM_TABLES(kCapabilities, kConstants)

const char* PlatformName() { return "darwin"; }

bool CpuHasArmCrc32() {
#if defined(__aarch64__) || defined(__arm64__)
  int present = 0;
  size_t size = sizeof present;
  return sysctlbyname("hw.optional.armv8_crc32", &present, &size, nullptr, 0) == 0 && present != 0;
#else
  return false;
#endif
}

}  // namespace hs

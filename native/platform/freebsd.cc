// FreeBSD: fdatasync(2) exists (since 11.1), O_DIRECT exists, posix_fallocate(2) is a real
// syscall. fsync(2) on UFS/ZFS issues a cache flush, so fullFsync is fsync. No
// sync_file_range, no syncfs.
#include <errno.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__aarch64__)
#include <machine/elf.h>  // HWCAP_CRC32
#endif

#include "posix.h"

namespace hs {

Status Fdatasync(int fd) {
  return Syscall("fdatasync", [&] { return ::fdatasync(fd); });
}

Status FullFsync(int fd) { return Fsync(fd); }
Status BarrierFsync(int fd) { return Fdatasync(fd); }

Status SyncFileRange(int, int64_t, int64_t, unsigned) {
  return Fail(kUnsupported, "sync_file_range");
}
Status Syncfs(int) { return Fail(kUnsupported, "syncfs"); }

Status Preallocate(int fd, int64_t offset, int64_t length) {
  int err = RetryNumberOnEintr([&] { return ::posix_fallocate(fd, offset, length); });
  return CheckedNumber(err, "posix_fallocate");
}

Status OsMapFlags(int, bool sync, int* flags) {
  if (sync) return Fail(kUnsupported, "mmap with MAP_SYNC");
  *flags = MAP_SHARED;
  return Ok();
}

// msync(MS_SYNC) writes the pages synchronously but runs the file's fsync (VOP_FSYNC, where
// the filesystem flushes the device cache) only when it covers the whole file
// (vm_object_sync in sys/vm/vm_object.c): the file's fsync follows, whatever the range.
bool OsMsyncNeedsFileFlush() { return true; }
Status OsFlushMappedFile(int fd) { return Fsync(fd); }

int OsOpenFlags(const OpenRequest& request) { return request.direct ? O_DIRECT : 0; }
Status OsAfterOpen(int, const OpenRequest&) { return Ok(); }

Status GetDioAlignment(int fd, const char* path, DioAlignment* out) {
  struct stat st;
  int rc = fd >= 0 ? ::fstat(fd, &st) : ::stat(path, &st);
  if (rc != 0) return Checked(rc, fd >= 0 ? "fstat" : "stat");
  out->memory = DefaultDioAlignment();
  out->offset = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : 512;
  out->source = "st_blksize (FreeBSD has no direct-I/O alignment query)";
  return Ok();
}

static constexpr Capability kCapabilities[] = {
    {CapabilityId::kFsync, true, "fsync(2)", Durability::kDurable},
    {CapabilityId::kFdatasync, true, "fdatasync(2)", Durability::kDurable},
    {CapabilityId::kFullFsync, true, "fsync(2)", Durability::kDurable},
    {CapabilityId::kBarrierFsync, true, "fdatasync(2) (no ordering-only flush)", Durability::kDurable},
    {CapabilityId::kSyncFileRange, false, "none", Durability::kNotDurable},
    {CapabilityId::kSyncfs, false, "none", Durability::kNotDurable},
    {CapabilityId::kFsyncDir, true, "open(O_RDONLY|O_DIRECTORY) + fsync(2)", Durability::kDurable},
    kPosixOpen,
    {CapabilityId::kOpenDsync, true, "open(2) with O_DSYNC", Durability::kDurable},
    {CapabilityId::kOpenSync, true, "open(2) with O_SYNC", Durability::kDurable},
    {CapabilityId::kOpenDirect, true, "open(2) with O_DIRECT", Durability::kNotDurable},
    {CapabilityId::kPreallocate, true, "posix_fallocate(2)", Durability::kNotAFlush},
    kPosixWriteDurable,
    kPosixReplaceFile,
    {CapabilityId::kDioAlignment, true, "st_blksize", Durability::kNotAFlush},
    kPosixLockFile,
    kPosixMapFile,
    {CapabilityId::kMsync, true, "msync(2) MS_SYNC + fsync(2) (msync of part of a file flushes no device cache)",
     Durability::kDurable},
    {CapabilityId::kMapSync, false, "none (MAP_SYNC is Linux's)", Durability::kNotAFlush},
};

static constexpr NamedConstant kConstants[] = {
    HS_POSIX_OPEN_CONSTANTS,
    {ConstantId::kO_DIRECT, O_DIRECT},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_BEFORE, 0}, {ConstantId::kSYNC_FILE_RANGE_WRITE, 0},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_AFTER, 0},
    {ConstantId::kF_FULLFSYNC, 0}, {ConstantId::kF_BARRIERFSYNC, 0}, {ConstantId::kF_NOCACHE, 0},
};

HS_PLATFORM_TABLES(kCapabilities, kConstants)

const char* PlatformName() { return "freebsd"; }

bool CpuHasArmCrc32() {
#if defined(__aarch64__) && defined(HWCAP_CRC32)
  unsigned long hwcap = 0;
  return elf_aux_info(AT_HWCAP, &hwcap, sizeof hwcap) == 0 && (hwcap & HWCAP_CRC32) != 0;
#else
  return false;
#endif
}

}  // namespace hs

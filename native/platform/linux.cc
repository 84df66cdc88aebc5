// Linux: fdatasync, sync_file_range, syncfs, fallocate, O_DIRECT and statx(STATX_DIOALIGN).
// On Linux fsync(2) already asks the device to flush its write cache (the filesystem issues a
// cache flush / FUA), so fullFsync is fsync and barrierFsync is fdatasync (the table in
// linux.h, which io_uring reads too): no weaker call is ever substituted silently, and
// capabilities() names what each export runs.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#if defined(__aarch64__)
#include <asm/hwcap.h>  // HWCAP_CRC32
#endif

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

// MAP_SYNC (Linux 4.15) is honoured only with MAP_SHARED_VALIDATE, which fails on a flag it
// does not know instead of ignoring it; STATX_ATTR_DAX (Linux 5.8) says whether a file is
// accessed directly (DAX), the only case MAP_SYNC allows. Older C library headers lack them.
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

Status OsMapFlags(int fd, bool sync, int* flags) {
  if (!sync) {
    *flags = MAP_SHARED;
    return Ok();
  }
  // Where statx knows the DAX attribute and the file lacks it, mmap would refuse: say why
  // without trying. Where it does not know it (before 5.8), mmap decides (posix.cc).
  struct statx stx;
  if (::statx(fd, "", AT_EMPTY_PATH, 0, &stx) == 0 && (stx.stx_attributes_mask & STATX_ATTR_DAX) != 0 &&
      (stx.stx_attributes & STATX_ATTR_DAX) == 0) {
    return Fail(kUnsupported, "mmap with MAP_SYNC (statx: the file is not DAX)");
  }
  *flags = MAP_SHARED_VALIDATE | MAP_SYNC;
  return Ok();
}

// msync(MS_SYNC) of a shared mapping runs the file's fsync for the range (vfs_fsync_range,
// datasync), which flushes the device cache as fdatasync(2) does.
bool OsMsyncNeedsFileFlush() { return false; }
Status OsFlushMappedFile(int) { return Ok(); }

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
    kPosixMapFile,
    {CapabilityId::kMsync, true, "msync(2) MS_SYNC (the file's fdatasync for the range)", Durability::kDurable},
    {CapabilityId::kMapSync, true, "mmap(2) MAP_SHARED_VALIDATE|MAP_SYNC (DAX files only: statx STATX_ATTR_DAX)",
     Durability::kNotAFlush},
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

// tmpfs and ramfs: fsync is noop_fsync and data lives in memory only, so neither a flush nor a
// write waits on a device. (With swap on, an overwrite of a page that was swapped out reads it
// back first, as any touch of swapped memory by the JavaScript thread would.)
// Telling them apart must not itself wait: fstatfs asks a FUSE daemon or an NFS server (seen
// here: 1 s of starvation behind a FUSE filesystem's slow flushes), so the filesystem's magic
// comes from statmount(2) (Linux 6.8), keyed by statx's unique mount id and cached (unique ids
// are never reused), and statx itself runs with AT_STATX_DONT_SYNC (a FUSE or network
// filesystem answers from its cache). On older kernels this says false: the usual route.
// The type matters too: a block device node on devtmpfs is on TMPFS_MAGIC, and its fsync
// flushes the device.
namespace {

// struct statx and struct statmount as the kernel lays them out: the C library's headers may
// predate stx_mnt_id, STATX_MNT_ID_UNIQUE and statmount.
struct KernelStatx {
  uint32_t mask, blksize;
  uint64_t attributes;
  uint32_t nlink, uid, gid;
  uint16_t mode, pad1;
  uint64_t ino, size, blocks, attributes_mask;
  struct { int64_t sec; uint32_t nsec; int32_t pad; } atime, btime, ctime, mtime;
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t mnt_id;
  uint32_t dio_mem_align, dio_offset_align;
  uint64_t spare[12];
};
static_assert(sizeof(KernelStatx) == 256, "struct statx is 256 bytes");
struct MountIdRequest {  // struct mnt_id_req, MNT_ID_REQ_SIZE_VER0
  uint32_t size, spare;
  uint64_t mnt_id, param;
};
struct StatmountHead {  // the start of struct statmount
  uint32_t size, mnt_opts;
  uint64_t mask;
  uint32_t sb_dev_major, sb_dev_minor;
  uint64_t sb_magic;
};
constexpr unsigned kStatxMntIdUnique = 0x4000;
constexpr uint64_t kStatmountSbBasic = 0x1;
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__arm__) || defined(__riscv)
constexpr long kStatmountSyscall = 457;  // the same number on every architecture listed
#else
constexpr long kStatmountSyscall = -1;
#endif

// Whether the mount with this unique id is a memory filesystem; cached per process.
bool MemoryMount(uint64_t mount) {
  static std::mutex mutex;
  static std::vector<std::pair<uint64_t, bool>> known;
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& entry : known) {
      if (entry.first == mount) return entry.second;
    }
  }
  // Refused once (a seccomp filter: EPERM or ENOSYS), refused for good: not asked again.
  static std::atomic<bool> refused{kStatmountSyscall < 0};
  if (refused.load(std::memory_order_relaxed)) return false;
  MountIdRequest request{sizeof(MountIdRequest), 0, mount, kStatmountSbBasic};
  alignas(8) unsigned char buffer[4096];
  long rc = ::syscall(kStatmountSyscall, &request, buffer, sizeof buffer, 0);
  if (rc != 0) {
    if (errno == ENOSYS || errno == EPERM) refused.store(true, std::memory_order_relaxed);
    return false;  // or the mount is gone: not cached
  }
  StatmountHead head;
  memcpy(&head, buffer, sizeof head);
  bool memory = (head.mask & kStatmountSbBasic) && (head.sb_magic == TMPFS_MAGIC || head.sb_magic == RAMFS_MAGIC);
  std::lock_guard<std::mutex> lock(mutex);
  if (known.size() >= 256) known.erase(known.begin());
  known.emplace_back(mount, memory);
  return memory;
}

}  // namespace

bool CompletesWithoutDevice(AsyncRequest& request) {
  switch (request.kind) {
    case AsyncRequest::Kind::kFlush:
      break;
    case AsyncRequest::Kind::kWrite:
      if (request.length > kMaxWriteWithoutDevice) return false;
      break;
    case AsyncRequest::Kind::kRange:
    case AsyncRequest::Kind::kDirectory:  // a path: its lookup may cross into any filesystem
      return false;
  }
  KernelStatx st;
  if (::syscall(SYS_statx, request.fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | kStatxMntIdUnique, &st) != 0) {
    return false;  // a bad fd: the usual route reports it
  }
  unsigned type = st.mode & S_IFMT;
  request.file_type = type;
  // A filesystem on a block device has a real major number; tmpfs and ramfs have none.
  if (st.dev_major != 0 || !(st.mask & kStatxMntIdUnique)) return false;
  if (type != S_IFREG && !(type == S_IFDIR && request.kind == AsyncRequest::Kind::kFlush)) return false;
  return MemoryMount(st.mnt_id);
}

bool CpuHasArmCrc32() {
#if defined(__aarch64__)
  return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#else
  return false;
#endif
}

}  // namespace hs

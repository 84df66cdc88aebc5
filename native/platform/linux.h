// What each flush kind is on Linux: one table read by the blocking calls (linux.cc) and by the
// io_uring queue (linux_uring.cc), so the two routes cannot come to mean different things.
#pragma once

#include "../platform.h"

namespace hs {

// The Linux call a flush kind runs. On Linux fsync(2) already asks the device to flush its
// write cache, so 'full' is fsync; Linux has no ordering-only flush, so 'barrier' is
// fdatasync: no weaker call is ever substituted silently.
enum class LinuxFlushCall { kNothing, kFsync, kFdatasync, kSyncfs };

constexpr LinuxFlushCall LinuxFlushCallOf(FlushKind kind) {
  switch (kind) {
    case FlushKind::kNone: return LinuxFlushCall::kNothing;
    case FlushKind::kData: return LinuxFlushCall::kFdatasync;
    case FlushKind::kFull: return LinuxFlushCall::kFsync;
    case FlushKind::kFsync: return LinuxFlushCall::kFsync;
    case FlushKind::kBarrier: return LinuxFlushCall::kFdatasync;
    case FlushKind::kSyncfs: return LinuxFlushCall::kSyncfs;
  }
  return LinuxFlushCall::kNothing;
}

// The syscall a failure of that call names (the same on either route).
constexpr const char* LinuxFlushSyscall(LinuxFlushCall call) {
  switch (call) {
    case LinuxFlushCall::kNothing: return "none";
    case LinuxFlushCall::kFsync: return "fsync";
    case LinuxFlushCall::kFdatasync: return "fdatasync";
    case LinuxFlushCall::kSyncfs: return "syncfs";
  }
  return "none";
}

// Whether io_uring has the call (IORING_OP_FSYNC, with IORING_FSYNC_DATASYNC for fdatasync).
// It has no syncfs: a kind the ring lacks runs on a flush thread, through the blocking call.
constexpr bool LinuxRingHasFlush(FlushKind kind) {
  return LinuxFlushCallOf(kind) == LinuxFlushCall::kFsync || LinuxFlushCallOf(kind) == LinuxFlushCall::kFdatasync;
}

}  // namespace hs

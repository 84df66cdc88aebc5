// What the POSIX platform files (posix.cc, linux.cc, darwin.cc, freebsd.cc) share: the one
// EINTR retry and the one conversion of a failed call into a Status, and the hooks posix.cc's
// shared code asks of each POSIX OS file.
#pragma once

#include <errno.h>
#include <fcntl.h>

#include "../platform.h"

namespace hs {

// Runs call() (a syscall in the -1-and-errno convention) again for as long as it fails with
// EINTR: an interrupted call did not run to completion, so running it again is the call, not
// a retry of a failure. Any other failure is final: a flush is never retried after one (a
// failed writeback may have dropped the pages, so a retry could "succeed"). Not for close(2):
// after EINTR the descriptor is already gone on Linux.
template <typename Call>
auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) rc;
  do rc = call(); while (rc == -1 && errno == EINTR);
  return rc;
}

// The Status of a call that returned rc: -1 is a failure, reported as -errno (the libuv code)
// naming syscall; anything else is success.
inline Status Checked(long rc, const char* syscall) { return rc == -1 ? Fail(-errno, syscall) : Ok(); }

// The Status of a call that returns its error number instead of setting errno
// (posix_fallocate): 0 is success.
inline Status CheckedNumber(int err, const char* syscall) { return err == 0 ? Ok() : Fail(-err, syscall); }

// RetryOnEintr for a call that returns its error number (posix_fallocate).
template <typename Call>
int RetryNumberOnEintr(Call call) {
  int err;
  do err = call(); while (err == EINTR);
  return err;
}

// The usual case: call() retried on EINTR, as a Status naming syscall.
template <typename Call>
Status Syscall(const char* syscall, Call call) {
  return Checked(RetryOnEintr(call), syscall);
}

// The capabilities() rows of the calls posix.cc implements the same way on every POSIX OS.
constexpr Capability kPosixOpen{CapabilityId::kOpen, true, "open(2) with O_CLOEXEC", Durability::kNotAFlush};
constexpr Capability kPosixWriteDurable{CapabilityId::kWriteDurable, true, "pwrite(2) loop + the chosen flush",
                                        Durability::kNotAFlush};
constexpr Capability kPosixReplaceFile{CapabilityId::kReplaceFile, true, "rename(2)", Durability::kNotAFlush};
constexpr Capability kPosixLockFile{CapabilityId::kLockFile, true, "flock(2)", Durability::kNotAFlush};

// The constants rows every POSIX OS has (ConstantId kO_RDONLY through kO_SYNC, in order), to
// open a POSIX platform file's constant table.
#define HS_POSIX_OPEN_CONSTANTS                                                                          \
  {ConstantId::kO_RDONLY, O_RDONLY}, {ConstantId::kO_WRONLY, O_WRONLY}, {ConstantId::kO_RDWR, O_RDWR},   \
      {ConstantId::kO_CREAT, O_CREAT}, {ConstantId::kO_EXCL, O_EXCL}, {ConstantId::kO_TRUNC, O_TRUNC},   \
      {ConstantId::kO_APPEND, O_APPEND}, {ConstantId::kO_CLOEXEC, O_CLOEXEC},                           \
      {ConstantId::kO_NOFOLLOW, O_NOFOLLOW}, {ConstantId::kO_DIRECTORY, O_DIRECTORY},                   \
      {ConstantId::kO_DSYNC, O_DSYNC}, {ConstantId::kO_SYNC, O_SYNC}

// Extra open(2) flags for a request (Linux and FreeBSD: O_DIRECT; macOS: none).
int OsOpenFlags(const OpenRequest& request);

// Work after a successful open(2) (macOS: F_NOCACHE for `direct`). On failure the shared
// code closes the fd and returns this status.
Status OsAfterOpen(int fd, const OpenRequest& request);

// Mapped files (posix.cc's MapFile and SyncMapping). The mmap(2) flags for a mapping:
// MAP_SHARED, or for `sync` MAP_SHARED_VALIDATE|MAP_SYNC where the file can have it (Linux);
// kUnsupported, naming why, where it cannot.
Status OsMapFlags(int fd, bool sync, int* flags);

// Whether msync(MS_SYNC) leaves data short of stable storage here, so that SyncMapping must
// follow it with the file's own flush (OsFlushMappedFile, on a descriptor the mapping keeps).
bool OsMsyncNeedsFileFlush();
Status OsFlushMappedFile(int fd);

// The capabilities() row of mapFile, the same on every POSIX OS.
constexpr Capability kPosixMapFile{CapabilityId::kMapFile, true, "fstat(2) + mmap(2) MAP_SHARED, PROT_READ|PROT_WRITE",
                                   Durability::kNotAFlush};

}  // namespace hs

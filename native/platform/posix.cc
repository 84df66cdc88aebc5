// What Linux, macOS and FreeBSD share: plain fsync, directory fsync, open, the write loop,
// rename. Each OS file (linux.cc, darwin.cc, freebsd.cc) adds the calls that differ and the
// two hooks declared in posix.h.
#include "posix.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hs {

Status Fsync(int fd) {
  // EINTR means the call did not run to completion; any other failure is final (see
  // RetryOnEintr in posix.h).
  return Syscall("fsync", [&] { return ::fsync(fd); });
}

Status FsyncDir(const char* path) {
  int fd = RetryOnEintr([&] { return ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd == -1) return Checked(fd, "open");
  Status status = Fsync(fd);
  ::close(fd);
  return status;
}

Status Open(const char* path, const OpenRequest& request, int* fd_out) {
  int flags = O_CLOEXEC;
  if (request.read && request.write) flags |= O_RDWR;
  else if (request.write) flags |= O_WRONLY;
  else flags |= O_RDONLY;
  if (request.create) flags |= O_CREAT;
  if (request.exclusive) flags |= O_EXCL;
  if (request.truncate) flags |= O_TRUNC;
  if (request.append) flags |= O_APPEND;
  if (request.dsync) flags |= O_DSYNC;
  if (request.sync) flags |= O_SYNC;
  if (request.nofollow) flags |= O_NOFOLLOW;
  flags |= OsOpenFlags(request);

  int fd = RetryOnEintr([&] { return ::open(path, flags, request.mode); });
  if (fd == -1) return Checked(fd, "open");
  Status after = OsAfterOpen(fd, request);
  if (!after.ok()) {
    ::close(fd);
    return after;
  }
  *fd_out = fd;
  return Ok();
}

Status WriteAll(int fd, const uint8_t* data, size_t length, int64_t position, size_t* written) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = RetryOnEintr([&] {
      return position < 0 ? ::write(fd, data + done, length - done)
                          : ::pwrite(fd, data + done, length - done,
                                     static_cast<off_t>(position + static_cast<int64_t>(done)));
    });
    if (n < 0) {
      *written = done;
      return Checked(n, position < 0 ? "write" : "pwrite");
    }
    if (n == 0) {  // a regular file never does this; a full pipe or device might
      *written = done;
      return Fail(-EIO, position < 0 ? "write" : "pwrite");
    }
    done += static_cast<size_t>(n);
  }
  *written = done;
  return Ok();
}

Status Lock(int fd, bool shared, bool wait) {
  int operation = (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  return Syscall("flock", [&] { return ::flock(fd, operation); });
}

Status Unlock(int fd) {
  return Syscall("flock", [&] { return ::flock(fd, LOCK_UN); });
}

Status Replace(const char* from, const char* to) {
  // An interrupted rename did not happen (FUSE and network filesystems can return EINTR).
  return Syscall("rename", [&] { return ::rename(from, to); });
}

Status Close(int fd) {
  return Checked(::close(fd), "close");
}

Status RemoveFile(const char* path) {
  return Checked(::unlink(path), "unlink");
}

Status Truncate(int fd, int64_t length) {
  return Syscall("ftruncate", [&] { return ::ftruncate(fd, static_cast<off_t>(length)); });
}

uint32_t DefaultDioAlignment() {
  long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<uint32_t>(page) : 4096;
}

}  // namespace hs

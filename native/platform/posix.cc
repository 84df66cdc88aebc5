// What Linux, macOS and FreeBSD share: plain fsync, directory fsync, open, the write loop,
// rename. Each OS file (linux.cc, darwin.cc, freebsd.cc) adds the calls that differ and the
// two hooks declared in posix.h.
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hs {

Status Fsync(int fd) {
  // EINTR means the call did not run to completion; any other failure is final (never
  // retried: a failed writeback may have dropped the pages, so a retry could "succeed").
  int rc;
  do rc = ::fsync(fd); while (rc == -1 && errno == EINTR);
  return rc == 0 ? Ok() : Fail(-errno, "fsync");
}

Status FsyncDir(const char* path) {
  int fd;
  do fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); while (fd == -1 && errno == EINTR);
  if (fd == -1) return Fail(-errno, "open");
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

  int fd;
  do fd = ::open(path, flags, request.mode); while (fd == -1 && errno == EINTR);
  if (fd == -1) return Fail(-errno, "open");
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
    ssize_t n = position < 0 ? ::write(fd, data + done, length - done)
                             : ::pwrite(fd, data + done, length - done,
                                        static_cast<off_t>(position + static_cast<int64_t>(done)));
    if (n < 0) {
      if (errno == EINTR) continue;
      *written = done;
      return Fail(-errno, position < 0 ? "write" : "pwrite");
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
  int rc;
  do rc = ::flock(fd, operation); while (rc == -1 && errno == EINTR);
  return rc == 0 ? Ok() : Fail(-errno, "flock");
}

Status Unlock(int fd) {
  int rc;
  do rc = ::flock(fd, LOCK_UN); while (rc == -1 && errno == EINTR);
  return rc == 0 ? Ok() : Fail(-errno, "flock");
}

Status Replace(const char* from, const char* to) {
  // An interrupted rename did not happen (FUSE and network filesystems can return EINTR).
  int rc;
  do rc = ::rename(from, to); while (rc == -1 && errno == EINTR);
  return rc == 0 ? Ok() : Fail(-errno, "rename");
}

Status Close(int fd) {
  return ::close(fd) == 0 ? Ok() : Fail(-errno, "close");
}

Status RemoveFile(const char* path) {
  return ::unlink(path) == 0 ? Ok() : Fail(-errno, "unlink");
}

Status Truncate(int fd, int64_t length) {
  int rc;
  do rc = ::ftruncate(fd, static_cast<off_t>(length)); while (rc == -1 && errno == EINTR);
  return rc == 0 ? Ok() : Fail(-errno, "ftruncate");
}

uint32_t DefaultDioAlignment() {
  long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<uint32_t>(page) : 4096;
}

}  // namespace hs

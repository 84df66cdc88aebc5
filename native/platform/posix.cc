// What Linux, macOS and FreeBSD share: plain fsync, directory fsync, open, the write loop,
// rename. Each OS file (linux.cc, darwin.cc, freebsd.cc) adds the calls that differ and the
// two hooks declared in posix.h.
#include "posix.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
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

size_t MapGranularity() {
  long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<size_t>(page) : 4096;
}

Status MapFile(const MapRequest& request, Mapping* out) {
  struct stat st;
  Status status = Syscall("fstat", [&] { return ::fstat(request.fd, &st); });
  if (!status.ok()) return status;
  const int64_t size = static_cast<int64_t>(st.st_size);
  out->fileSize = size;
  // A page of the mapping past the end of the file has nothing behind it: touching it raises
  // SIGBUS. Refused here, when the mapping is made; a file shrunk later can still do it.
  if (request.offset < 0 || request.offset >= size) return Fail(kPastEndOfFile, "mmap");
  const int64_t length = request.length < 0 ? size - request.offset : request.length;
  if (length == 0 || length > size - request.offset) return Fail(kPastEndOfFile, "mmap");
  const size_t granularity = MapGranularity();
  const int64_t start = request.offset - request.offset % static_cast<int64_t>(granularity);
  const uint64_t mapped = static_cast<uint64_t>(request.offset - start) + static_cast<uint64_t>(length);
  if (static_cast<uint64_t>(static_cast<size_t>(mapped)) != mapped) return Fail(-ENOMEM, "mmap");  // 32-bit

  int flags = 0;
  status = OsMapFlags(request.fd, request.sync, &flags);
  if (!status.ok()) return status;
  void* base = ::mmap(nullptr, static_cast<size_t>(mapped), PROT_READ | PROT_WRITE, flags, request.fd,
                      static_cast<off_t>(start));
  if (base == MAP_FAILED) {
    int err = errno;
    // MAP_SYNC: Linux says EOPNOTSUPP when the file cannot have it, and a kernel older than
    // 4.15 says EINVAL to MAP_SHARED_VALIDATE itself (nothing else here can be invalid:
    // the offset is aligned and the length positive).
    if (request.sync && (err == EOPNOTSUPP || err == EINVAL)) {
      return Fail(kUnsupported, "mmap with MAP_SYNC (the file is not on a DAX filesystem, or the kernel predates it)");
    }
    return Fail(-err, "mmap");
  }
  intptr_t file = -1;
  if (OsMsyncNeedsFileFlush()) {
    int kept = RetryOnEintr([&] { return ::fcntl(request.fd, F_DUPFD_CLOEXEC, 0); });
    if (kept == -1) {
      status = Checked(kept, "fcntl");
      ::munmap(base, static_cast<size_t>(mapped));
      return status;
    }
    file = kept;
  }
  out->base = static_cast<uint8_t*>(base);
  out->mapped = static_cast<size_t>(mapped);
  out->data = out->base + (request.offset - start);
  out->length = static_cast<size_t>(length);
  out->file = file;
  return Ok();
}

Status SyncMapping(const Mapping& mapping, size_t offset, size_t length) {
  if (length == 0) return Ok();  // no byte asked for: nothing to make durable
  // msync takes a page-aligned address; the pages around the range are flushed with it.
  const uintptr_t first = reinterpret_cast<uintptr_t>(mapping.data) + offset;
  const uintptr_t page = first - (first - reinterpret_cast<uintptr_t>(mapping.base)) % MapGranularity();
  const size_t span = static_cast<size_t>(first - page) + length;
  Status status = Syscall("msync", [&] { return ::msync(reinterpret_cast<void*>(page), span, MS_SYNC); });
  if (!status.ok()) return status;
  return mapping.file >= 0 ? OsFlushMappedFile(static_cast<int>(mapping.file)) : Ok();
}

void Unmap(Mapping* mapping) {
  if (mapping->base != nullptr) ::munmap(mapping->base, mapping->mapped);
  if (mapping->file >= 0) ::close(static_cast<int>(mapping->file));
  *mapping = Mapping{};
}

uint32_t DefaultDioAlignment() {
  long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<uint32_t>(page) : 4096;
}

}  // namespace hs

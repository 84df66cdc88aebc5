// Windows. The facts this file is built on (docs/ARCHITECTURE.md, "The storage facts the design respects"):
// - Every flush is FlushFileBuffers: it writes the file's data and metadata and asks the
//   device to flush its cache. It needs a handle with write access, so a directory cannot be
//   flushed: fsyncDir reports ERR_HARDSYNC_UNSUPPORTED, and a rename is made durable by
//   MoveFileEx's MOVEFILE_WRITE_THROUGH instead.
// - node:fs's fds are libuv's: CRT descriptors of node's own C runtime. An addon must use
//   uv_get_osfhandle and uv_fs_open (not _get_osfhandle/_open of its own CRT) or its fds would
//   mean nothing to node:fs.
// - libuv maps UV_FS_O_DSYNC / UV_FS_O_SYNC to FILE_FLAG_WRITE_THROUGH and UV_FS_O_DIRECT to
//   FILE_FLAG_NO_BUFFERING (which also needs sector-aligned buffers, offsets and lengths).
//   WRITE_THROUGH alone still goes through the cache; with NO_BUFFERING it also asks the disk
//   to write through. O_SYNC|O_DSYNC together is EINVAL there.
// - Errors are Win32 codes, turned into libuv's codes by uv_translate_sys_error, so they get
//   the same names node:fs gives them.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <uv.h>

#include <string>

#include "../platform.h"

namespace hs {

static Status LastError(const char* syscall) {
  return Fail(uv_translate_sys_error(static_cast<int>(GetLastError())), syscall);
}

static HANDLE HandleOf(int fd) {
  return reinterpret_cast<HANDLE>(uv_get_osfhandle(fd));
}

static bool Widen(const char* utf8, std::wstring* out) {
  int length = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, nullptr, 0);
  if (length <= 0) return false;
  out->resize(static_cast<size_t>(length));
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, &(*out)[0], length);
  out->resize(static_cast<size_t>(length - 1));
  return true;
}

// Every flush kind's call on Windows (see the top of this file).
static Status FlushBuffers(int fd) {
  HANDLE handle = HandleOf(fd);
  if (handle == INVALID_HANDLE_VALUE) return Fail(UV_EBADF, "FlushFileBuffers");
  return FlushFileBuffers(handle) ? Ok() : LastError("FlushFileBuffers");
}

Status Fsync(int fd) { return FlushBuffers(fd); }
Status Fdatasync(int fd) { return FlushBuffers(fd); }
Status FullFsync(int fd) { return FlushBuffers(fd); }
Status BarrierFsync(int fd) { return FlushBuffers(fd); }

Status SyncFileRange(int, int64_t, int64_t, unsigned) {
  return Fail(kUnsupported, "sync_file_range");
}
Status Syncfs(int) { return Fail(kUnsupported, "syncfs"); }
Status FsyncDir(const char*) {
  return Fail(kUnsupported, "fsync of a directory (FlushFileBuffers needs write access)");
}

Status Open(const char* path, const OpenRequest& request, int* fd_out) {
  // Windows has no O_NOFOLLOW and libuv's open follows symbolic links and junctions. With
  // create + exclusive the request holds anyway: CREATE_NEW fails on any existing name, a
  // (dangling) link included, and never follows it. Otherwise honouring `nofollow` would take
  // an open of our own outside libuv; following the link instead would silently weaken what
  // the caller asked for, so the call is refused.
  if (request.nofollow && !(request.create && request.exclusive)) {
    return Fail(kUnsupported, "open with nofollow (O_NOFOLLOW) unless create and exclusive");
  }
  int flags = 0;
  if (request.read && request.write) flags |= UV_FS_O_RDWR;
  else if (request.write) flags |= UV_FS_O_WRONLY;
  else flags |= UV_FS_O_RDONLY;
  if (request.create) flags |= UV_FS_O_CREAT;
  if (request.exclusive) flags |= UV_FS_O_EXCL;
  if (request.truncate) flags |= UV_FS_O_TRUNC;
  if (request.append) flags |= UV_FS_O_APPEND;
  if (request.dsync) flags |= UV_FS_O_DSYNC;
  if (request.sync) flags |= UV_FS_O_SYNC;
  if (request.direct) flags |= UV_FS_O_DIRECT;
  // Handles libuv opens are not inheritable: the O_CLOEXEC of Windows.
  uv_fs_t req;
  int result = uv_fs_open(nullptr, &req, path, flags, request.mode, nullptr);
  uv_fs_req_cleanup(&req);
  if (result < 0) return Fail(result, "open");
  *fd_out = result;
  return Ok();
}

Status Preallocate(int fd, int64_t offset, int64_t length) {
  HANDLE handle = HandleOf(fd);
  if (handle == INVALID_HANDLE_VALUE) return Fail(UV_EBADF, "SetFileInformationByHandle");
  LARGE_INTEGER size;
  if (!GetFileSizeEx(handle, &size)) return LastError("GetFileSizeEx");
  int64_t end = offset + length;
  if (end <= size.QuadPart) return Ok();
  // Moving the end of file of a non-sparse file makes NTFS (and ReFS) allocate the clusters
  // up to it (reads of the new range return zeros: that is the valid-data length at work),
  // so this both reserves the space and sets the size fallocate(2) mode 0 would. No space
  // left is ERROR_DISK_FULL, reported as ENOSPC. FileAllocationInfo would add nothing
  // here, and Wine does not implement it.
  FILE_END_OF_FILE_INFO end_of_file;
  end_of_file.EndOfFile.QuadPart = end;
  if (!SetFileInformationByHandle(handle, FileEndOfFileInfo, &end_of_file, sizeof end_of_file)) {
    return LastError("SetFileInformationByHandle");
  }
  return Ok();
}

Status WriteAll(int fd, const uint8_t* data, size_t length, int64_t position, size_t* written) {
  *written = 0;
  HANDLE handle = HandleOf(fd);
  if (handle == INVALID_HANDLE_VALUE) return Fail(UV_EBADF, "WriteFile");
  // A positioned WriteFile on a synchronous handle also moves the file pointer; pwrite(2)
  // does not, and libuv's positioned write (what node:fs's fs.write with a position runs)
  // puts the pointer back afterwards. Do the same, so a later write at "the current
  // position" lands where it would on POSIX and with node:fs.
  LARGE_INTEGER original = {};
  if (position >= 0) {
    LARGE_INTEGER zero = {};
    if (!SetFilePointerEx(handle, zero, &original, FILE_CURRENT)) return LastError("SetFilePointerEx");
  }
  Status status = Ok();
  size_t done = 0;
  while (done < length) {
    DWORD chunk = static_cast<DWORD>(length - done > 0x40000000 ? 0x40000000 : length - done);
    DWORD count = 0;
    BOOL ok;
    if (position >= 0) {
      OVERLAPPED overlapped = {};
      uint64_t at = static_cast<uint64_t>(position) + done;
      overlapped.Offset = static_cast<DWORD>(at & 0xFFFFFFFFu);
      overlapped.OffsetHigh = static_cast<DWORD>(at >> 32);
      ok = WriteFile(handle, data + done, chunk, &count, &overlapped);
    } else {
      ok = WriteFile(handle, data + done, chunk, &count, nullptr);
    }
    if (!ok) {
      DWORD error = GetLastError();
      // A handle without write access: libuv's write (so node:fs) reports EBADF, as
      // write(2) does on POSIX for an fd not open for writing. Same code here.
      status = error == ERROR_ACCESS_DENIED ? Fail(UV_EBADF, "WriteFile")
                                            : Fail(uv_translate_sys_error(static_cast<int>(error)), "WriteFile");
      break;
    }
    if (count == 0) {
      status = Fail(UV_EIO, "WriteFile");
      break;
    }
    done += count;
  }
  *written = done;
  if (position >= 0) SetFilePointerEx(handle, original, nullptr, FILE_BEGIN);
  return status;
}

Status Lock(int fd, bool shared, bool wait) {
  HANDLE handle = HandleOf(fd);
  if (handle == INVALID_HANDLE_VALUE) return Fail(UV_EBADF, "LockFileEx");
  DWORD flags = (shared ? 0 : LOCKFILE_EXCLUSIVE_LOCK) | (wait ? 0 : LOCKFILE_FAIL_IMMEDIATELY);
  OVERLAPPED overlapped = {};
  // The whole file, now and as it grows: the largest range LockFileEx takes.
  if (LockFileEx(handle, flags, 0, MAXDWORD, MAXDWORD, &overlapped)) return Ok();
  // A lock held elsewhere, with wait = false: Windows says ERROR_LOCK_VIOLATION (libuv would
  // call it EBUSY), and ERROR_IO_PENDING where the handle was opened for overlapped I/O.
  // Both are what flock(LOCK_NB) reports as EWOULDBLOCK: EAGAIN here too, so lib/ sees one
  // code for a held lock on every OS.
  DWORD error = GetLastError();
  if (!wait && (error == ERROR_LOCK_VIOLATION || error == ERROR_IO_PENDING)) return Fail(UV_EAGAIN, "LockFileEx");
  return Fail(uv_translate_sys_error(static_cast<int>(error)), "LockFileEx");
}

Status Unlock(int fd) {
  HANDLE handle = HandleOf(fd);
  if (handle == INVALID_HANDLE_VALUE) return Fail(UV_EBADF, "UnlockFileEx");
  OVERLAPPED overlapped = {};
  if (UnlockFileEx(handle, 0, MAXDWORD, MAXDWORD, &overlapped)) return Ok();
  // flock(LOCK_UN) of a file this fd does not lock succeeds; so does unlockFile here.
  // Windows says ERROR_NOT_LOCKED (a code libuv has no name for); Wine says
  // ERROR_LOCK_VIOLATION, which an unlock cannot otherwise meet (it never waits or conflicts).
  DWORD error = GetLastError();
  if (error == ERROR_NOT_LOCKED || error == ERROR_LOCK_VIOLATION) return Ok();
  return Fail(uv_translate_sys_error(static_cast<int>(error)), "UnlockFileEx");
}

Status Replace(const char* from, const char* to) {
  std::wstring wide_from;
  std::wstring wide_to;
  if (!Widen(from, &wide_from) || !Widen(to, &wide_to)) return Fail(UV_EINVAL, "MoveFileExW");
  // WRITE_THROUGH: the call returns only after the move is flushed to disk, which is what a
  // directory fsync after rename gives on POSIX.
  BOOL ok = MoveFileExW(wide_from.c_str(), wide_to.c_str(),
                        MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
  return ok ? Ok() : LastError("MoveFileExW");
}

uint32_t DefaultDioAlignment() { return 4096; }

Status GetDioAlignment(int fd, const char* path, DioAlignment* out) {
  HANDLE handle = INVALID_HANDLE_VALUE;
  bool owned = false;
  if (fd >= 0) {
    handle = HandleOf(fd);
    if (handle == INVALID_HANDLE_VALUE) return Fail(UV_EBADF, "GetFileInformationByHandleEx");
  } else {
    std::wstring wide;
    if (!Widen(path, &wide)) return Fail(UV_EINVAL, "CreateFileW");
    handle = CreateFileW(wide.c_str(), 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (handle == INVALID_HANDLE_VALUE) return LastError("CreateFileW");
    owned = true;
  }
  FILE_STORAGE_INFO storage = {};
  bool known = GetFileInformationByHandleEx(handle, FileStorageInfo, &storage, sizeof storage);
  if (owned) CloseHandle(handle);
  if (known && storage.LogicalBytesPerSector > 0) {
    // NO_BUFFERING needs buffer, offset and length aligned to the sector size.
    out->memory = storage.LogicalBytesPerSector;
    out->offset = storage.LogicalBytesPerSector;
    out->source = "GetFileInformationByHandleEx(FileStorageInfo)";
  } else {
    out->memory = DefaultDioAlignment();
    out->offset = DefaultDioAlignment();
    out->source = "default 4096 (FileStorageInfo unavailable)";
  }
  return Ok();
}

static constexpr Capability kCapabilities[] = {
    {CapabilityId::kFsync, true, "FlushFileBuffers", Durability::kDurable},
    {CapabilityId::kFdatasync, true, "FlushFileBuffers", Durability::kDurable},
    {CapabilityId::kFullFsync, true, "FlushFileBuffers", Durability::kDurable},
    {CapabilityId::kBarrierFsync, true, "FlushFileBuffers (no ordering-only flush)", Durability::kDurable},
    {CapabilityId::kSyncFileRange, false, "none", Durability::kNotDurable},
    {CapabilityId::kSyncfs, false, "none", Durability::kNotDurable},
    {CapabilityId::kFsyncDir, false, "none (FlushFileBuffers needs write access; a directory has none)", Durability::kNotDurable},
    {CapabilityId::kOpen, true, "uv_fs_open (CreateFileW)", Durability::kNotAFlush},
    {CapabilityId::kOpenDsync, true, "uv_fs_open with UV_FS_O_DSYNC (FILE_FLAG_WRITE_THROUGH)", Durability::kNotDurable},
    {CapabilityId::kOpenSync, true, "uv_fs_open with UV_FS_O_SYNC (FILE_FLAG_WRITE_THROUGH)", Durability::kNotDurable},
    {CapabilityId::kOpenDirect, true, "uv_fs_open with UV_FS_O_DIRECT (FILE_FLAG_NO_BUFFERING)", Durability::kNotDurable},
    {CapabilityId::kPreallocate, true, "SetFileInformationByHandle(FileEndOfFileInfo)", Durability::kNotAFlush},
    {CapabilityId::kWriteDurable, true, "WriteFile loop + FlushFileBuffers", Durability::kNotAFlush},
    {CapabilityId::kReplaceFile, true, "MoveFileExW(MOVEFILE_REPLACE_EXISTING|MOVEFILE_WRITE_THROUGH)", Durability::kNotAFlush},
    {CapabilityId::kDioAlignment, true, "GetFileInformationByHandleEx(FileStorageInfo)", Durability::kNotAFlush},
    {CapabilityId::kLockFile, true, "LockFileEx / UnlockFileEx", Durability::kNotAFlush},
    {CapabilityId::kMapFile, true, "CreateFileMappingW(PAGE_READWRITE) + MapViewOfFile(FILE_MAP_WRITE)", Durability::kNotAFlush},
    {CapabilityId::kMsync, true, "FlushViewOfFile + FlushFileBuffers", Durability::kDurable},
    {CapabilityId::kMapSync, false, "none (MAP_SYNC is Linux's)", Durability::kNotAFlush},
};

static constexpr NamedConstant kConstants[] = {
    {ConstantId::kO_RDONLY, UV_FS_O_RDONLY}, {ConstantId::kO_WRONLY, UV_FS_O_WRONLY}, {ConstantId::kO_RDWR, UV_FS_O_RDWR},
    {ConstantId::kO_CREAT, UV_FS_O_CREAT}, {ConstantId::kO_EXCL, UV_FS_O_EXCL}, {ConstantId::kO_TRUNC, UV_FS_O_TRUNC},
    {ConstantId::kO_APPEND, UV_FS_O_APPEND}, {ConstantId::kO_CLOEXEC, 0}, {ConstantId::kO_NOFOLLOW, 0}, {ConstantId::kO_DIRECTORY, 0},
    {ConstantId::kO_DSYNC, UV_FS_O_DSYNC}, {ConstantId::kO_SYNC, UV_FS_O_SYNC}, {ConstantId::kO_DIRECT, UV_FS_O_DIRECT},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_BEFORE, 0}, {ConstantId::kSYNC_FILE_RANGE_WRITE, 0},
    {ConstantId::kSYNC_FILE_RANGE_WAIT_AFTER, 0},
    {ConstantId::kF_FULLFSYNC, 0}, {ConstantId::kF_BARRIERFSYNC, 0}, {ConstantId::kF_NOCACHE, 0},
};

HS_PLATFORM_TABLES(kCapabilities, kConstants)

// Synchronous libuv calls (no loop, no callback), so the fds stay libuv's CRT descriptors.
Status Close(int fd) {
  uv_fs_t req;
  int result = uv_fs_close(nullptr, &req, fd, nullptr);
  uv_fs_req_cleanup(&req);
  return result < 0 ? Fail(result, "close") : Ok();
}

Status RemoveFile(const char* path) {
  uv_fs_t req;
  int result = uv_fs_unlink(nullptr, &req, path, nullptr);
  uv_fs_req_cleanup(&req);
  return result < 0 ? Fail(result, "unlink") : Ok();
}

Status Truncate(int fd, int64_t length) {
  uv_fs_t req;
  int result = uv_fs_ftruncate(nullptr, &req, fd, length, nullptr);
  uv_fs_req_cleanup(&req);
  return result < 0 ? Fail(result, "ftruncate") : Ok();
}

// Mapped files. A view's file offset must be a multiple of the allocation granularity (64 KiB),
// not of the page size. FlushViewOfFile starts writing the view's dirty pages and waits for
// them, but it neither writes the file's metadata nor flushes the device cache: that is
// FlushFileBuffers on the file, so the mapping keeps a handle of its own to it.
size_t MapGranularity() {
  SYSTEM_INFO info;
  GetSystemInfo(&info);
  return info.dwAllocationGranularity > 0 ? info.dwAllocationGranularity : 65536;
}

Status MapFile(const MapRequest& request, Mapping* out) {
  HANDLE handle = HandleOf(request.fd);
  if (handle == INVALID_HANDLE_VALUE) return Fail(UV_EBADF, "GetFileSizeEx");
  if (request.sync) return Fail(kUnsupported, "MapViewOfFile with MAP_SYNC");
  LARGE_INTEGER size;
  if (!GetFileSizeEx(handle, &size)) return LastError("GetFileSizeEx");
  out->fileSize = size.QuadPart;
  if (request.offset < 0 || request.offset >= size.QuadPart) return Fail(kPastEndOfFile, "MapViewOfFile");
  const int64_t length = request.length < 0 ? size.QuadPart - request.offset : request.length;
  if (length == 0 || length > size.QuadPart - request.offset) return Fail(kPastEndOfFile, "MapViewOfFile");
  const int64_t granularity = static_cast<int64_t>(MapGranularity());
  const uint64_t start = static_cast<uint64_t>(request.offset - request.offset % granularity);
  const uint64_t mapped = static_cast<uint64_t>(request.offset) - start + static_cast<uint64_t>(length);
  if (static_cast<uint64_t>(static_cast<size_t>(mapped)) != mapped) return Fail(UV_ENOMEM, "MapViewOfFile");  // 32-bit
  // The section ends where the view does, inside the file: a section longer than the file
  // would extend it.
  const uint64_t end = start + mapped;
  HANDLE section = CreateFileMappingW(handle, nullptr, PAGE_READWRITE, static_cast<DWORD>(end >> 32),
                                      static_cast<DWORD>(end & 0xFFFFFFFFu), nullptr);
  if (section == nullptr) return LastError("CreateFileMappingW");
  void* base = MapViewOfFile(section, FILE_MAP_WRITE, static_cast<DWORD>(start >> 32),
                             static_cast<DWORD>(start & 0xFFFFFFFFu), static_cast<SIZE_T>(mapped));
  Status status = base == nullptr ? LastError("MapViewOfFile") : Ok();
  CloseHandle(section);  // the view holds the section open
  if (!status.ok()) return status;
  HANDLE kept = nullptr;
  if (!DuplicateHandle(GetCurrentProcess(), handle, GetCurrentProcess(), &kept, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
    status = LastError("DuplicateHandle");
    UnmapViewOfFile(base);
    return status;
  }
  out->base = static_cast<uint8_t*>(base);
  out->mapped = static_cast<size_t>(mapped);
  out->data = out->base + (static_cast<uint64_t>(request.offset) - start);
  out->length = static_cast<size_t>(length);
  out->file = reinterpret_cast<intptr_t>(kept);
  return Ok();
}

Status SyncMapping(const Mapping& mapping, size_t offset, size_t length) {
  if (length == 0) return Ok();  // no byte asked for: nothing to make durable
  if (!FlushViewOfFile(mapping.data + offset, length)) return LastError("FlushViewOfFile");
  HANDLE file = reinterpret_cast<HANDLE>(mapping.file);
  return FlushFileBuffers(file) ? Ok() : LastError("FlushFileBuffers");
}

void Unmap(Mapping* mapping) {
  if (mapping->base != nullptr) UnmapViewOfFile(mapping->base);
  if (mapping->file != -1) CloseHandle(reinterpret_cast<HANDLE>(mapping->file));
  *mapping = Mapping{};
}

const char* PlatformName() { return "win32"; }

bool CpuHasArmCrc32() {
#if defined(_M_ARM64) || defined(__aarch64__)
#ifndef PF_ARM_V8_CRC32_INSTRUCTIONS_AVAILABLE
#define PF_ARM_V8_CRC32_INSTRUCTIONS_AVAILABLE 31
#endif
  return IsProcessorFeaturePresent(PF_ARM_V8_CRC32_INSTRUCTIONS_AVAILABLE) != 0;
#else
  return false;
#endif
}

}  // namespace hs

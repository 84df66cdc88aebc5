// Platform-neutral durability calls. Each OS family implements them in one file under
// native/platform/ (picked by binding.gyp). Nothing here knows about Node-API: the functions
// run on the libuv threadpool or the main thread alike and report failure as a Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hs {

// Sentinel error: the call does not exist on this OS or filesystem. Distinct from every uv
// error code so it can never be mistaken for a real errno.
constexpr int kUnsupported = -0x7fff0001;

// A failed call reports a negative libuv error code (on POSIX that is -errno) and the name
// of the syscall that actually failed ("fcntl", "sync_file_range", "open", ...). On success
// err is 0. For kUnsupported, syscall names what is missing.
struct Status {
  int err = 0;
  const char* syscall = nullptr;
  bool ok() const { return err == 0; }
};

inline Status Ok() { return Status{}; }
inline Status Fail(int err, const char* syscall) { return Status{err, syscall}; }

// Which flush writeDurable runs after its writes. Order and values match lib/types.ts.
enum class Flush : int { kNone = 0, kData = 1, kFull = 2, kFsync = 3, kBarrier = 4 };

struct OpenRequest {
  bool read = false;
  bool write = false;
  bool create = false;
  bool exclusive = false;
  bool truncate = false;
  bool append = false;
  bool dsync = false;
  bool sync = false;
  bool direct = false;
  bool nofollow = false;
  int mode = 0666;
};

struct DioAlignment {
  uint32_t memory = 0;   // required alignment of the buffer address
  uint32_t offset = 0;   // required alignment of file offset and length
  const char* source = "";  // where the figures came from, e.g. "statx(STATX_DIOALIGN)"
};

// One entry of capabilities(): whether an export works on this OS and what it maps to.
// Whether a call that returned success has made the data durable on this OS: written through
// every volatile cache down to stable storage. macOS's fsync, for one, does not flush the
// drive's cache (only F_FULLFSYNC does); sync_file_range and O_DIRECT never do.
enum class Durability { kNotAFlush, kDurable, kNotDurable };

struct Capability {
  const char* name;     // the export's name in lib/, e.g. "fullFsync"
  bool supported;
  const char* syscall;  // what it calls here, e.g. "fcntl(F_FULLFSYNC)"
  Durability durable;   // for flushes and synchronous opens; kNotAFlush for the rest
};

// Flushes. None of them is ever retried after a failure (see DESIGN.md, "fsyncgate").
Status Fsync(int fd);
Status Fdatasync(int fd);
Status FullFsync(int fd);
Status BarrierFsync(int fd);
Status SyncFileRange(int fd, int64_t offset, int64_t nbytes, unsigned flags);
Status Syncfs(int fd);
Status FsyncDir(const char* path);

inline Status RunFlush(int fd, Flush flush) {
  switch (flush) {
    case Flush::kNone: return Ok();
    case Flush::kData: return Fdatasync(fd);
    case Flush::kFull: return FullFsync(fd);
    case Flush::kFsync: return Fsync(fd);
    case Flush::kBarrier: return BarrierFsync(fd);
  }
  return Fail(kUnsupported, "unknown flush kind");  // unreachable: lib/ validates
}

// Opens path as asked; *fd receives a descriptor node:fs understands. O_CLOEXEC always.
Status Open(const char* path, const OpenRequest& request, int* fd);
Status Preallocate(int fd, int64_t offset, int64_t length);

// Writes every byte (looping over short writes and EINTR). position < 0 writes at the
// current file position. *written is how many bytes went in before any failure.
Status WriteAll(int fd, const uint8_t* data, size_t length, int64_t position, size_t* written);

// An advisory whole-file lock that other processes (and other opens in this one) respect:
// flock(2) on POSIX, LockFileEx on Windows. Released by Unlock or when the fd is closed.
// With wait = false a held lock fails at once (EAGAIN on POSIX, EBUSY on Windows).
Status Lock(int fd, bool shared, bool wait);
Status Unlock(int fd);

// Replaces `to` by `from` in one step (rename(2); MoveFileEx on Windows).
Status Replace(const char* from, const char* to);

// Closes a descriptor this layer opened (close(2); uv_fs_close on Windows). Never retried:
// after EINTR from close(2) the descriptor is already gone on Linux.
Status Close(int fd);

// Removes a file (unlink(2); uv_fs_unlink on Windows).
Status RemoveFile(const char* path);

// Sets a file's size (ftruncate(2); uv_fs_ftruncate on Windows).
Status Truncate(int fd, int64_t length);

// Direct-I/O alignment of an open file (fd >= 0) or else of path.
Status GetDioAlignment(int fd, const char* path, DioAlignment* out);

// The direct-I/O alignment to use when nothing better is known (page size or sector).
uint32_t DefaultDioAlignment();

// The table behind capabilities(): a static array, *count entries.
const Capability* Capabilities(size_t* count);

// Platform constants (0 where absent) exposed as `constants`.
struct NamedConstant {
  const char* name;
  int64_t value;
};
const NamedConstant* Constants(size_t* count);

// ---- The kernel completion queue (io_uring on Linux) ---------------------------------------
// An async flush described without pointers into JavaScript: everything it names is owned by
// the op that holds it. The engine (native/engine.cc) hands it to a KernelQueue when there is
// one that can run it, else runs the op's own Run() on a flush thread.
struct AsyncRequest {
  enum class Kind { kFlush, kWrite, kRange, kDirectory };
  Kind kind = Kind::kFlush;
  int fd = -1;
  Flush flush = Flush::kNone;    // kFlush and kWrite: the flush to run (after the writes)
  const uint8_t* data = nullptr; // kWrite
  size_t length = 0;             // kWrite
  int64_t position = -1;         // kWrite: < 0 writes at the file position
  int64_t offset = 0;            // kRange
  int64_t nbytes = 0;            // kRange
  unsigned flags = 0;            // kRange
  const char* path = nullptr;    // kDirectory
  size_t written = 0;            // kWrite, out: bytes written before any failure
};

// A queue of requests the kernel runs without a user thread, completing to a descriptor
// libuv can poll. Used from one thread (the JavaScript thread of one environment) only,
// except WaitAll, which runs on a reaper thread after that environment is gone.
class KernelQueue {
 public:
  using Done = void (*)(void* tag, Status status, void* context);
  virtual ~KernelQueue() = default;
  // Whether this queue can run the request (the opcodes exist, the sizes fit).
  virtual bool Supports(const AsyncRequest& request) const = 0;
  // How many more requests Submit can take now.
  virtual size_t Room() const = 0;
  // Starts a request; tag comes back through Done. A failure means nothing was started.
  virtual Status Submit(AsyncRequest* request, void* tag) = 0;
  // Readable (poll) while completions wait to be drained.
  virtual int NotifyFd() const = 0;
  // Reports every finished request through done (a request that needs another step, e.g. the
  // rest of a short write, is resubmitted instead). Returns how many were reported.
  virtual size_t Drain(Done done, void* context) = 0;
  // Requests started and not yet reported.
  virtual size_t InFlight() const = 0;
  // Blocks until every request in flight is reported through done.
  virtual void WaitAll(Done done, void* context) = 0;
  // The name shown by capabilities(), e.g. "io_uring".
  virtual const char* Name() const = 0;
};

// Whether request finishes without waiting on any device, so that the engine may run it on the
// JavaScript thread (a thread hop costs more than the call itself): a flush, or a write of at
// most kMaxWriteWithoutDevice bytes (with its flush), on a regular file (or, for a flush, a
// directory) of a memory filesystem (Linux: tmpfs, ramfs), where fsync has nothing to write
// and a write is a copy into memory. False wherever that cannot be told cheaply (every OS but
// Linux), and for anything else (a device node on devtmpfs flushes its device: not here).
constexpr size_t kMaxWriteWithoutDevice = 256 * 1024;
bool CompletesWithoutDevice(const AsyncRequest& request);

// The kernel queue of this OS, or nullptr with *why_not saying why (no such facility, the
// kernel refuses it, an opcode is missing). Never throws, never aborts.
KernelQueue* CreateKernelQueue(std::string* why_not);

// Name of this platform family, for diagnostics ("linux", "darwin", "win32", "freebsd").
const char* PlatformName();

}  // namespace hs

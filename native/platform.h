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

// Sentinel error of MapFile: the range asked for reaches past the end of the file, where a
// store or a load would raise SIGBUS. Not an errno: mmap(2) itself accepts such a range.
constexpr int kPastEndOfFile = -0x7fff0002;

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

// ---- The shared vocabulary ----------------------------------------------------------------
// Each list below is written once, here. binding.cc exports it (flushKinds, openBits,
// capabilityNames, the names of `constants`) and lib/ and bench/ read those exports;
// test/vocabulary.test.ts fails when lib/types.ts and these lists disagree.

// The flush kinds, value = position: writeDurable's `flush` option (lib/types.ts FlushMode:
// every kind but syncfs), the benchmark loop's flush (every kind), and the kernel queue's
// kFlush / kWrite requests. X(enumerator, name).
#define HS_FLUSH_KINDS(X) \
  X(kNone, "none")        \
  X(kData, "data")        \
  X(kFull, "full")        \
  X(kFsync, "fsync")      \
  X(kBarrier, "barrier")  \
  X(kSyncfs, "syncfs")

#define HS_ENUMERATOR(id, name) id,
enum class FlushKind : int { HS_FLUSH_KINDS(HS_ENUMERATOR) };
#define HS_NAME(id, name) name,
constexpr const char* kFlushKindNames[] = {HS_FLUSH_KINDS(HS_NAME)};
constexpr int kFlushKindCount = sizeof kFlushKindNames / sizeof kFlushKindNames[0];
// The kinds writeDurable takes: FlushMode's, kNone through kBarrier (syncfs flushes a whole
// filesystem, not the file just written).
constexpr FlushKind kLastFileFlush = FlushKind::kBarrier;

// The boolean options of open() (lib/types.ts OpenOptions minus `mode`). lib/ packs them into
// one int: option i is bit 1 << i.
#define HS_OPEN_OPTIONS(X) \
  X(read) X(write) X(create) X(exclusive) X(truncate) X(append) X(dsync) X(sync) X(direct) X(nofollow)

struct OpenRequest {
#define HS_OPEN_FIELD(name) bool name = false;
  HS_OPEN_OPTIONS(HS_OPEN_FIELD)
#undef HS_OPEN_FIELD
  int mode = 0666;
};

#define HS_OPEN_NAME(name) #name,
constexpr const char* kOpenOptionNames[] = {HS_OPEN_OPTIONS(HS_OPEN_NAME)};
#undef HS_OPEN_NAME
constexpr int kOpenOptionCount = sizeof kOpenOptionNames / sizeof kOpenOptionNames[0];

// Unpacks lib/'s open bits (option i at bit 1 << i) into a request.
inline void UnpackOpenBits(int32_t bits, OpenRequest* request) {
  int index = 0;
#define HS_OPEN_UNPACK(name) request->name = (bits >> index++) & 1;
  HS_OPEN_OPTIONS(HS_OPEN_UNPACK)
#undef HS_OPEN_UNPACK
}

// The names capabilities() reports on (lib/types.ts CapabilityName): the exports, with open
// split by mode. Each platform file supplies the facts per name (its Capability rows).
#define HS_CAPABILITIES(X)              \
  X(kFsync, "fsync")                   \
  X(kFdatasync, "fdatasync")           \
  X(kFullFsync, "fullFsync")           \
  X(kBarrierFsync, "barrierFsync")     \
  X(kSyncFileRange, "syncFileRange")   \
  X(kSyncfs, "syncfs")                 \
  X(kFsyncDir, "fsyncDir")             \
  X(kOpen, "open")                     \
  X(kOpenDsync, "openDsync")           \
  X(kOpenSync, "openSync")             \
  X(kOpenDirect, "openDirect")         \
  X(kPreallocate, "preallocate")       \
  X(kWriteDurable, "writeDurable")     \
  X(kReplaceFile, "replaceFile")       \
  X(kDioAlignment, "dioAlignment")     \
  X(kLockFile, "lockFile")             \
  X(kMapFile, "mapFile")               \
  X(kMsync, "msync")                   \
  X(kMapSync, "mapSync")

enum class CapabilityId : int { HS_CAPABILITIES(HS_ENUMERATOR) };
constexpr const char* kCapabilityNames[] = {HS_CAPABILITIES(HS_NAME)};
constexpr int kCapabilityCount = sizeof kCapabilityNames / sizeof kCapabilityNames[0];

// The names of `constants` (lib/types.ts Constants). Each platform file gives each one its
// value there (0 where absent). X(name): the enumerator is k##name, the name #name (neither
// operator expands the argument, so the O_* macros stay names here).
#define HS_CONSTANTS(X)                                                                       \
  X(O_RDONLY) X(O_WRONLY) X(O_RDWR) X(O_CREAT) X(O_EXCL) X(O_TRUNC) X(O_APPEND) X(O_CLOEXEC) \
  X(O_NOFOLLOW) X(O_DIRECTORY) X(O_DSYNC) X(O_SYNC) X(O_DIRECT)                              \
  X(SYNC_FILE_RANGE_WAIT_BEFORE) X(SYNC_FILE_RANGE_WRITE) X(SYNC_FILE_RANGE_WAIT_AFTER)       \
  X(F_FULLFSYNC) X(F_BARRIERFSYNC) X(F_NOCACHE)

#define HS_CONSTANT_ENUMERATOR(name) k##name,
enum class ConstantId : int { HS_CONSTANTS(HS_CONSTANT_ENUMERATOR) };
#undef HS_CONSTANT_ENUMERATOR
#define HS_CONSTANT_NAME(name) #name,
constexpr const char* kConstantNames[] = {HS_CONSTANTS(HS_CONSTANT_NAME)};
#undef HS_CONSTANT_NAME
constexpr int kConstantCount = sizeof kConstantNames / sizeof kConstantNames[0];

#undef HS_ENUMERATOR
#undef HS_NAME

struct DioAlignment {
  uint32_t memory = 0;   // required alignment of the buffer address
  uint32_t offset = 0;   // required alignment of file offset and length
  const char* source = "";  // where the figures came from, e.g. "statx(STATX_DIOALIGN)"
};

// Whether a call that returned success has made the data durable on this OS: written through
// every volatile cache down to stable storage. macOS's fsync, for one, does not flush the
// drive's cache (only F_FULLFSYNC does); sync_file_range and O_DIRECT never do.
enum class Durability { kNotAFlush, kDurable, kNotDurable };

// One entry of capabilities(): whether an export works on this OS and what it maps to. A
// platform file's table lists every CapabilityId once, in order (EveryIdInOrder checks that at
// compile time); the name is kCapabilityNames[id].
struct Capability {
  CapabilityId id;
  bool supported;
  const char* syscall;  // what it calls here, e.g. "fcntl(F_FULLFSYNC)"
  Durability durable;   // for flushes and synchronous opens; kNotAFlush for the rest
};

// A platform file's value for one constant name, in a table of every ConstantId in order.
struct NamedConstant {
  ConstantId id;
  int64_t value;
};

// Whether a platform table has one row per id, in the order of its list: each platform file
// static_asserts it of its capability and constant tables, so a name added to a list and
// forgotten in one OS's file (or a row out of order) does not compile.
template <typename Row, size_t N>
constexpr bool EveryIdInOrder(const Row (&table)[N], int count) {
  if (static_cast<int>(N) != count) return false;
  for (size_t i = 0; i < N; i++) {
    if (static_cast<int>(table[i].id) != static_cast<int>(i)) return false;
  }
  return true;
}

// Flushes. None of them is ever retried after a failure: on Linux a failed writeback can leave
// the pages marked clean, so a retry could report success with the data gone
// (docs/ARCHITECTURE.md, "The storage facts the design respects").
Status Fsync(int fd);
Status Fdatasync(int fd);
Status FullFsync(int fd);
Status BarrierFsync(int fd);
Status SyncFileRange(int fd, int64_t offset, int64_t nbytes, unsigned flags);
Status Syncfs(int fd);
Status FsyncDir(const char* path);

// The one dispatch from a flush kind to its call, for writeDurable, the flush exports and the
// benchmark loop alike. What each call is on this OS is its platform file's business.
inline Status RunFlush(int fd, FlushKind kind) {
  switch (kind) {
    case FlushKind::kNone: return Ok();
    case FlushKind::kData: return Fdatasync(fd);
    case FlushKind::kFull: return FullFsync(fd);
    case FlushKind::kFsync: return Fsync(fd);
    case FlushKind::kBarrier: return BarrierFsync(fd);
    case FlushKind::kSyncfs: return Syncfs(fd);
  }
  return Fail(kUnsupported, "unknown flush kind");  // unreachable: binding.cc validates
}

// Opens path as asked; *fd receives a descriptor node:fs understands. O_CLOEXEC always.
Status Open(const char* path, const OpenRequest& request, int* fd);
Status Preallocate(int fd, int64_t offset, int64_t length);

// Writes every byte (looping over short writes and EINTR). position < 0 writes at the
// current file position. *written is how many bytes went in before any failure.
Status WriteAll(int fd, const uint8_t* data, size_t length, int64_t position, size_t* written);

// An advisory whole-file lock that other processes (and other opens in this one) respect:
// flock(2) on POSIX, LockFileEx on Windows. Released by Unlock or when the fd is closed.
// With wait = false a held lock fails at once with EAGAIN (win32.cc maps Windows' codes to it).
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

// ---- Mapped files -------------------------------------------------------------------------
// A shared, read-write mapping of a file region. There is no read-only form: JavaScript
// cannot make a Buffer read-only, and a store into memory mapped without write permission
// kills the process (SIGSEGV), where a private copy would swallow it silently.

struct MapRequest {
  int fd = -1;           // open for reading and writing
  int64_t offset = 0;    // file offset of the first byte; any value (rounded down internally)
  int64_t length = -1;   // bytes; < 0: up to the end of the file
  bool sync = false;     // MAP_SYNC (Linux, DAX files only); kUnsupported elsewhere
};

// One mapping. base/mapped are what the OS mapped (from the offset rounded down to
// MapGranularity()); data/length are what was asked for, inside it.
struct Mapping {
  uint8_t* base = nullptr;
  size_t mapped = 0;
  uint8_t* data = nullptr;
  size_t length = 0;
  int64_t fileSize = 0;    // the file's size when it was mapped (also set on kPastEndOfFile)
  intptr_t file = -1;      // where SyncMapping needs the file too (macOS, FreeBSD, Windows): a
                           // descriptor or handle of its own, closed by Unmap; -1 elsewhere
};

// Maps request's region. Refuses (kPastEndOfFile) a range past the file's current end and an
// empty one, so that no byte of the mapping lies beyond the file when it is made; a file
// shrunk later (by any process) still faults there, as with every mmap.
Status MapFile(const MapRequest& request, Mapping* out);

// Returns once [offset, offset + length) of the mapping (relative to data) is durable on this
// OS: msync(MS_SYNC), then the file's own flush where msync alone does not reach stable
// storage (platform file says which). Never retried after a failure, like every flush.
Status SyncMapping(const Mapping& mapping, size_t offset, size_t length);

// Releases the mapping (and its file descriptor or handle). Nothing may touch it afterwards.
void Unmap(Mapping* mapping);

// What a mapping's file offset is rounded down to: the page size on POSIX, the allocation
// granularity (64 KiB) on Windows.
size_t MapGranularity();

// The table behind capabilities(): kCapabilityCount rows, row i for CapabilityId i.
const Capability* Capabilities();

// Platform constants (0 where absent) exposed as `constants`: kConstantCount rows, row i for
// ConstantId i.
const NamedConstant* Constants();

// In a platform file, after its two tables: checks them and defines the two functions above.
#define HS_PLATFORM_TABLES(capabilities, constants)                                                   \
  static_assert(EveryIdInOrder(capabilities, kCapabilityCount), "one row per CapabilityId, in order"); \
  static_assert(EveryIdInOrder(constants, kConstantCount), "one row per ConstantId, in order");        \
  const Capability* Capabilities() { return capabilities; }                                            \
  const NamedConstant* Constants() { return constants; }

// ---- The kernel completion queue (io_uring on Linux) ---------------------------------------
// An async flush described without pointers into JavaScript: everything it names is owned by
// the op that holds it. The engine (native/engine.cc) hands it to a KernelQueue when there is
// one that can run it, else runs the op's own Run() on a flush thread.
struct AsyncRequest {
  enum class Kind { kFlush, kWrite, kRange, kDirectory };
  Kind kind = Kind::kFlush;
  int fd = -1;
  FlushKind flush = FlushKind::kNone;  // kFlush and kWrite: the flush to run (after the writes)
  const uint8_t* data = nullptr; // kWrite
  size_t length = 0;             // kWrite
  int64_t position = -1;         // kWrite: < 0 writes at the file position
  int64_t offset = 0;            // kRange
  int64_t nbytes = 0;            // kRange
  unsigned flags = 0;            // kRange
  const char* path = nullptr;    // kDirectory
  size_t written = 0;            // kWrite, out: bytes written before any failure
  unsigned file_type = 0;        // fd's type (S_IFMT bits) when CompletesWithoutDevice read it, else 0
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
  // Blocks until at least one request in flight has finished, then reports what finished
  // through done, as Drain does (the benchmark's loop keeping N requests in flight). Ok with
  // nothing in flight; an error only when the queue itself can no longer wait.
  virtual Status WaitSome(Done done, void* context) = 0;
  // The name shown by capabilities(), e.g. "io_uring".
  virtual const char* Name() const = 0;
};

// Whether request finishes without waiting on any device, so that the engine may run it on the
// JavaScript thread (a thread hop costs more than the call itself): a flush, or a write of at
// most kMaxWriteWithoutDevice bytes (with its flush), on a regular file (or, for a flush, a
// directory) of a memory filesystem (Linux: tmpfs, ramfs), where fsync has nothing to write
// and a write is a copy into memory. False wherever that cannot be told cheaply (every OS but
// Linux), and for anything else (a device node on devtmpfs flushes its device: not here).
// Where it had to look at the file, it leaves the type in request.file_type, so that the
// kernel queue need not look again.
constexpr size_t kMaxWriteWithoutDevice = 256 * 1024;
bool CompletesWithoutDevice(AsyncRequest& request);

// The kernel queue of this OS, or nullptr with *why_not saying why (no such facility, the
// kernel refuses it, an opcode is missing). Never throws, never aborts.
KernelQueue* CreateKernelQueue(std::string* why_not);

// Name of this platform family, for diagnostics ("linux", "darwin", "win32", "freebsd").
const char* PlatformName();

// Whether this is an ARMv8 CPU with the CRC32 instructions, as the OS reports it (a user
// program cannot read the CPU's feature registers itself); false on every other CPU.
// native/crc32c.cc asks, to pick its form.
bool CpuHasArmCrc32();

}  // namespace hs

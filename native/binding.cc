// Node-API glue: argument unpacking, the ops, the export table (with bench_spec.cc for the
// benchmark loop's spec, errors.cc for the errors, dispatch.h for running an op).
// lib/ validates every argument first and throws node-style errors; the checks here are a
// second line so that no call from JavaScript, however wrong, can crash the process.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "arena.h"
#include "bench.h"
#include "bench_spec.h"
#include "crc32c.h"
#include "dispatch.h"
#include "errors.h"
#include "log_frames.h"
#include "mapped.h"
#include "platform.h"

namespace hs {

MappedRegistry& MappedRegistry::Get() {
  static MappedRegistry* registry = new MappedRegistry();
  return *registry;
}

ArenaRegistry& ArenaRegistry::Get() {
  static ArenaRegistry* registry = new ArenaRegistry();
  return *registry;
}

namespace {

bool ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  Napi::Value value = info[i];
  if (!value.IsNumber()) return ThrowInvalidArgType(info.Env(), name, "of type number");
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= -2147483648.0 && number <= 2147483647.0) || number != static_cast<int32_t>(number)) {
    return ThrowInvalidArgType(info.Env(), name, "a 32-bit integer");
  }
  *out = static_cast<int32_t>(number);
  return true;
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, int* fd) {
  int32_t value = -1;
  if (!ArgInt32(info, i, "fd", &value)) return false;
  if (value < 0) return ThrowInvalidArgType(info.Env(), "fd", "a non-negative integer");
  *fd = value;
  return true;
}

bool ArgInt64(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  Napi::Value value = info[i];
  if (!value.IsNumber()) return ThrowInvalidArgType(info.Env(), name, "of type number");
  double number = value.As<Napi::Number>().DoubleValue();
  constexpr double kMaxSafe = 9007199254740991.0;
  if (!(number >= -kMaxSafe && number <= kMaxSafe) || number != static_cast<double>(static_cast<int64_t>(number))) {
    return ThrowInvalidArgType(info.Env(), name, "a safe integer");
  }
  *out = static_cast<int64_t>(number);
  return true;
}

bool ArgPath(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  Napi::Value value = info[i];
  if (!value.IsString()) return ThrowInvalidArgType(info.Env(), name, "of type string");
  *out = value.As<Napi::String>().Utf8Value();
  if (out->empty() || std::memchr(out->data(), '\0', out->size()) != nullptr) {
    return ThrowInvalidArgType(info.Env(), name, "a non-empty string without null bytes");
  }
  return true;
}

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 1;
  }
}

// What a TypedArray or DataView (a Buffer is a Uint8Array) looks at: its first byte, its
// length in bytes, its ArrayBuffer and where in it the view starts. Not a view: kNotAView;
// one napi cannot describe: kUnreadable.
struct ViewInfo {
  void* data = nullptr;
  size_t length = 0;
  napi_value arraybuffer = nullptr;
  size_t offset = 0;
};
enum class ViewRead { kOk, kNotAView, kUnreadable };

ViewRead ReadView(napi_env env, napi_value value, ViewInfo* out) {
  bool is_typed_array = false;
  bool is_data_view = false;
  napi_is_typedarray(env, value, &is_typed_array);
  if (!is_typed_array) napi_is_dataview(env, value, &is_data_view);
  if (is_typed_array) {
    napi_typedarray_type type;
    size_t element_count = 0;
    if (napi_get_typedarray_info(env, value, &type, &element_count, &out->data, &out->arraybuffer, &out->offset) != napi_ok) {
      return ViewRead::kUnreadable;
    }
    out->length = element_count * ElementSize(type);
    return ViewRead::kOk;
  }
  if (!is_data_view) return ViewRead::kNotAView;
  return napi_get_dataview_info(env, value, &out->length, &out->data, &out->arraybuffer, &out->offset) == napi_ok
             ? ViewRead::kOk
             : ViewRead::kUnreadable;
}

// The bytes of a TypedArray or DataView. A detached buffer reads as zero length, which is
// what it is.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const uint8_t** data, size_t* length) {
  ViewInfo view;
  switch (ReadView(info.Env(), info[i], &view)) {
    case ViewRead::kOk: break;
    case ViewRead::kNotAView: return ThrowInvalidArgType(info.Env(), "data", "an instance of Buffer, TypedArray, or DataView");
    case ViewRead::kUnreadable: return ThrowInvalidArgType(info.Env(), "data", "a Buffer, TypedArray or DataView");
  }
  *data = static_cast<const uint8_t*>(view.data);
  *length = view.data == nullptr ? 0 : view.length;
  return true;
}

// A private copy of bytes for a write that runs on the threadpool, so the caller may reuse,
// transfer or resize its buffer at once. The copy sits at the same address modulo 4096 as
// the source, so alignment is neither gained nor lost: an allocAligned buffer stays usable
// with O_DIRECT, and a misaligned one still fails with EINVAL, exactly as in the sync form.
class OwnedBytes {
 public:
  static constexpr size_t kPage = 4096;

  OwnedBytes() = default;
  OwnedBytes(const OwnedBytes&) = delete;
  OwnedBytes& operator=(const OwnedBytes&) = delete;
  OwnedBytes(OwnedBytes&& other) noexcept { *this = std::move(other); }
  OwnedBytes& operator=(OwnedBytes&& other) noexcept {
    std::swap(block_, other.block_);
    std::swap(data_, other.data_);
    return *this;
  }
  ~OwnedBytes() {
    if (block_ != nullptr) ::operator delete(block_, std::align_val_t(kPage));
  }

  bool CopyFrom(const uint8_t* source, size_t size) {
    size_t phase = reinterpret_cast<uintptr_t>(source) % kPage;
    if (size > SIZE_MAX - kPage) return false;
    block_ = static_cast<uint8_t*>(::operator new(size + kPage, std::align_val_t(kPage), std::nothrow));
    if (block_ == nullptr) return false;
    data_ = block_ + phase;
    if (size != 0) std::memcpy(data_, source, size);
    return true;
  }

  const uint8_t* data() const { return data_; }

 private:
  uint8_t* block_ = nullptr;
  uint8_t* data_ = nullptr;
};

// Defaults shared by the ops: not a flush (runs on libuv's threadpool), no kernel-queue form,
// no path, nothing to add to the error, resolves to undefined.
struct OpBase {
  static constexpr bool kFlush = false;
  static constexpr bool kOwnFailure = false;
  AsyncRequest* Request() { return nullptr; }
  const char* Path() const { return nullptr; }
  const char* Dest() const { return nullptr; }
  void Annotate(Napi::Error&) const {}
  Napi::Value Result(Napi::Env env) const { return env.Undefined(); }
};

// A flush of one fd: the export of that kind (fsync, fdatasync, fullFsync, barrierFsync,
// syncfs). The kernel queue decides whether it has the kind (io_uring has no syncfs): when it
// does not, the op runs RunFlush on a flush thread.
template <FlushKind kKind>
struct FlushOp : OpBase {
  static constexpr bool kFlush = true;
  int fd = -1;
  AsyncRequest request;
  bool Parse(const Napi::CallbackInfo& info, bool) { return ArgFd(info, 0, &fd); }
  Status Run() { return RunFlush(fd, kKind); }
  AsyncRequest* Request() {
    request.kind = AsyncRequest::Kind::kFlush;
    request.fd = fd;
    request.flush = kKind;
    return &request;
  }
};

struct SyncFileRangeOp : OpBase {
  static constexpr bool kFlush = true;
  AsyncRequest request;
  int fd = -1;
  int64_t offset = 0;
  int64_t nbytes = 0;
  int32_t flags = 0;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    return ArgFd(info, 0, &fd) && ArgInt64(info, 1, "offset", &offset) &&
           ArgInt64(info, 2, "nbytes", &nbytes) && ArgInt32(info, 3, "flags", &flags);
  }
  Status Run() { return SyncFileRange(fd, offset, nbytes, static_cast<unsigned>(flags)); }
  AsyncRequest* Request() {
    request.kind = AsyncRequest::Kind::kRange;
    request.fd = fd;
    request.offset = offset;
    request.nbytes = nbytes;
    request.flags = static_cast<unsigned>(flags);
    return &request;
  }
};

struct FsyncDirOp : OpBase {
  static constexpr bool kFlush = true;
  std::string path;
  AsyncRequest request;
  bool Parse(const Napi::CallbackInfo& info, bool) { return ArgPath(info, 0, "path", &path); }
  Status Run() { return FsyncDir(path.c_str()); }
  AsyncRequest* Request() {
    request.kind = AsyncRequest::Kind::kDirectory;
    request.path = path.c_str();
    return &request;
  }
  const char* Path() const { return path.c_str(); }
};

struct OpenOp : OpBase {
  std::string path;
  OpenRequest request;
  int fd = -1;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    int32_t bits = 0;
    int32_t mode = 0;
    if (!ArgPath(info, 0, "path", &path) || !ArgInt32(info, 1, "flags", &bits) ||
        !ArgInt32(info, 2, "mode", &mode)) {
      return false;
    }
    UnpackOpenBits(bits, &request);  // packed by lib/primitives.ts from the openBits export
    request.mode = mode;
    return true;
  }
  Status Run() { return Open(path.c_str(), request, &fd); }
  const char* Path() const { return path.c_str(); }
  Napi::Value Result(Napi::Env env) const { return Napi::Number::New(env, fd); }
};

struct PreallocateOp : OpBase {
  int fd = -1;
  int64_t offset = 0;
  int64_t length = 0;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    return ArgFd(info, 0, &fd) && ArgInt64(info, 1, "offset", &offset) &&
           ArgInt64(info, 2, "length", &length);
  }
  Status Run() { return Preallocate(fd, offset, length); }
};

// "one of 'none', 'data', ...": the flush kinds writeDurable takes, from platform.h's list.
std::string FileFlushNames() {
  std::string names = "one of ";
  for (int i = 0; i <= static_cast<int>(kLastFileFlush); i++) {
    names += std::string(i == 0 ? "'" : ", '") + kFlushKindNames[i] + "'";
  }
  return names;
}

// A flush kind writeDurable takes, as its code.
bool ArgFileFlush(const Napi::CallbackInfo& info, size_t i, int32_t* flush) {
  if (!ArgInt32(info, i, "flush", flush)) return false;
  if (*flush < static_cast<int32_t>(FlushKind::kNone) || *flush > static_cast<int32_t>(kLastFileFlush)) {
    return ThrowInvalidArgType(info.Env(), "flush", FileFlushNames().c_str());
  }
  return true;
}

struct WriteDurableOp : OpBase {
  static constexpr bool kFlush = true;
  int fd = -1;
  const uint8_t* data = nullptr;  // borrowed in the sync form, owned.data() in the async one
  size_t length = 0;
  OwnedBytes owned;
  int64_t position = -1;
  int32_t flush = 0;
  AsyncRequest request;  // request.written: bytes written, by either route
  bool Parse(const Napi::CallbackInfo& info, bool async) {
    if (!ArgFd(info, 0, &fd) || !ArgBytes(info, 1, &data, &length) ||
        !ArgInt64(info, 2, "position", &position) || !ArgFileFlush(info, 3, &flush)) {
      return false;
    }
    if (async) {
      if (!owned.CopyFrom(data, length)) {
        Napi::RangeError::New(info.Env(), "hardsync: cannot allocate the write's copy")
            .ThrowAsJavaScriptException();
        return false;
      }
      data = owned.data();
    }
    return true;
  }
  Status Run() {
    Status status = WriteAll(fd, data, length, position, &request.written);
    if (!status.ok()) return status;
    return RunFlush(fd, static_cast<FlushKind>(flush));
  }
  AsyncRequest* Request() {
    request.kind = AsyncRequest::Kind::kWrite;
    request.fd = fd;
    request.data = data;
    request.length = length;
    request.position = position;
    request.flush = static_cast<FlushKind>(flush);
    return &request;
  }
  void Annotate(Napi::Error& error) const {
    error.Set("bytesWritten", Napi::Number::New(error.Env(), static_cast<double>(request.written)));
  }
  Napi::Value Result(Napi::Env env) const { return Napi::Number::New(env, static_cast<double>(request.written)); }
};

struct LockOp : OpBase {
  int fd = -1;
  bool shared = false;
  bool wait = false;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    if (!ArgFd(info, 0, &fd)) return false;
    shared = info[1].ToBoolean();
    wait = info[2].ToBoolean();
    return true;
  }
  Status Run() { return Lock(fd, shared, wait); }
};

struct UnlockOp : OpBase {
  int fd = -1;
  bool Parse(const Napi::CallbackInfo& info, bool) { return ArgFd(info, 0, &fd); }
  Status Run() { return Unlock(fd); }
};

struct ReplaceOp : OpBase {
  std::string from;
  std::string to;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    return ArgPath(info, 0, "from", &from) && ArgPath(info, 1, "to", &to);
  }
  Status Run() { return Replace(from.c_str(), to.c_str()); }
  const char* Path() const { return from.c_str(); }
  const char* Dest() const { return to.c_str(); }
};

struct DioAlignmentOp : OpBase {
  int fd = -1;
  std::string path;
  DioAlignment result;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    if (info[0].IsNumber()) return ArgFd(info, 0, &fd);
    return ArgPath(info, 0, "path", &path);
  }
  Status Run() { return GetDioAlignment(fd, fd >= 0 ? nullptr : path.c_str(), &result); }
  const char* Path() const { return fd >= 0 ? nullptr : path.c_str(); }
  Napi::Value Result(Napi::Env env) const {
    Napi::Object object = Napi::Object::New(env);
    object.Set("memory", Napi::Number::New(env, result.memory));
    object.Set("offset", Napi::Number::New(env, result.offset));
    object.Set("source", Napi::String::New(env, result.source));
    return object;
  }
};

// ---- Mapped files (holders and lifetime: mapped.h) ------------------------------------------

// The native memory (held.h) a view (Buffer, TypedArray, DataView) looks into, and where in
// it the view lies.
template <typename Block>
struct HeldView {
  std::shared_ptr<Block> block;
  uintptr_t id = 0;
  napi_value arraybuffer = nullptr;
  size_t offset = 0;  // of the view's first byte, from the block's first byte
  size_t length = 0;  // of the view
};

// A view of memory that Registry holds (a mapping made by mapFile and not unmapped, a log's
// arena); anything else (a copy of one, a view of a detached or shared buffer) is a TypeError
// saying `expected`.
template <typename Registry, typename Block>
bool ArgHeldView(const Napi::CallbackInfo& info, size_t i, const char* name, const char* expected, HeldView<Block>* out) {
  napi_env env = info.Env();
  ViewInfo view;
  if (ReadView(env, info[i], &view) != ViewRead::kOk) {
    return ThrowInvalidArgType(env, name, "an instance of Buffer, TypedArray, or DataView");
  }
  void* data = nullptr;
  size_t buffer_length = 0;
  // A SharedArrayBuffer is not an ArrayBuffer here (napi says so), a detached one has no data.
  if (napi_get_arraybuffer_info(env, view.arraybuffer, &data, &buffer_length) != napi_ok || data == nullptr ||
      view.offset > buffer_length || view.length > buffer_length - view.offset ||
      (out->block = Registry::Get().Find(data, buffer_length, &out->id)) == nullptr) {
    return ThrowInvalidArgType(env, name, expected);
  }
  out->arraybuffer = view.arraybuffer;
  out->offset = view.offset;
  out->length = view.length;
  return true;
}

using MappedView = HeldView<MappedRegion>;

bool ArgMappedView(const Napi::CallbackInfo& info, size_t i, MappedView* out) {
  return ArgHeldView<MappedRegistry>(info, i, "view", "a view of a mapping made by mapFile, not unmapped", out);
}

// writeArena(fd, view, position, flush): writeDurable of a view of a log's arena (arena.h),
// without the copy: the write reads the arena in place and holds it until it has returned.
// The caller keeps the bytes unchanged until the Promise settles. Async only.
struct WriteArenaOp : WriteDurableOp {
  std::shared_ptr<ArenaBlock> arena;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    HeldView<ArenaBlock> view;
    if (!ArgFd(info, 0, &fd) ||
        !ArgHeldView<ArenaRegistry>(info, 1, "data", "a view of an arena made by logArena", &view) ||
        !ArgInt64(info, 2, "position", &position) || !ArgFileFlush(info, 3, &flush)) {
      return false;
    }
    arena = std::move(view.block);
    data = arena->Data() + view.offset;
    length = view.length;
    return true;
  }
};

// Node's way of writing a received number in ERR_OUT_OF_RANGE: 1_234_567_890_123 above 2^32.
std::string RangeNumber(int64_t value) {
  std::string digits = std::to_string(value);
  if (value >= -(int64_t{1} << 32) && value <= (int64_t{1} << 32)) return digits;
  size_t start = value < 0 ? 1 : 0;
  for (size_t end = digits.size(); end >= start + 4; end -= 3) digits.insert(end - 3, "_");
  return digits;
}

// An external Buffer's finalizer: JavaScript can no longer reach the memory (garbage-
// collected, or, for a mapping, detached by unmapFile, which let go of it already). The hint
// is its id in Registry.
template <typename Registry>
void FinalizeHeld(napi_env, void* data, void* hint) {
  Registry::Get().Remove(data, reinterpret_cast<uintptr_t>(hint));
}

// A Buffer over `length` bytes at `data`, which Registry holds as `id` until the Buffer is
// collected. On failure (a runtime that allows no external buffers, say) the registry lets go
// of the memory, an error is thrown (ERR_HARDSYNC_UNSUPPORTED when the runtime refuses;
// `unsupported` names what then cannot work) and undefined returned.
template <typename Registry>
Napi::Value HeldBuffer(Napi::Env env, void* data, size_t length, uintptr_t id, const char* unsupported) {
  napi_value buffer = nullptr;
  napi_status made =
      napi_create_external_buffer(env, length, data, FinalizeHeld<Registry>, reinterpret_cast<void*>(id), &buffer);
  if (made == napi_ok) return Napi::Value(env, buffer);
  // No Buffer: forget the memory (node may have run the finalizer already); the caller's own
  // reference frees it when the caller lets go.
  Registry::Get().Remove(data, id);
  if (env.IsExceptionPending()) return env.Undefined();  // node's own error (a Buffer too large)
  Napi::Error error = Napi::Error::New(
      env, made == napi_no_external_buffers_allowed
               ? std::string(unsupported) + " is not supported in this runtime: it allows no external buffers"
               : std::string("hardsync: cannot make the Buffer of ") + unsupported);
  error.Set("code", made == napi_no_external_buffers_allowed ? "ERR_HARDSYNC_UNSUPPORTED" : "ERR_HARDSYNC_NO_BUFFER");
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

// mapFile(fd, offset, length, sync): the Buffer over a new shared mapping. Runs on libuv's
// threadpool (fstat + mmap: not a flush). length -1: up to the end of the file.
struct MapFileOp : OpBase {
  static constexpr bool kOwnFailure = true;
  MapRequest request;
  std::shared_ptr<MappedRegion> region;
  int64_t fileSize = 0;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    if (!ArgFd(info, 0, &request.fd) || !ArgInt64(info, 1, "offset", &request.offset) ||
        !ArgInt64(info, 2, "length", &request.length)) {
      return false;
    }
    if (request.offset < 0) return ThrowOutOfRange(info.Env(), "offset", "a file offset (>= 0)");
    if (request.length == 0 || request.length < -1) {
      return ThrowOutOfRange(info.Env(), "length", "a mapping (>= 1, or -1 for the rest of the file)");
    }
    request.sync = info[3].ToBoolean();
    return true;
  }
  Status Run() {
    Mapping mapping;
    Status status = MapFile(request, &mapping);
    fileSize = mapping.fileSize;
    if (!status.ok()) return status;
    region.reset(new (std::nothrow) MappedRegion(mapping));
    if (!region) {
      Unmap(&mapping);
      return Fail(UV_ENOMEM, "malloc");
    }
    return Ok();
  }
  // Without a Buffer, this op's own reference unmaps the mapping when the op goes.
  Napi::Value Result(Napi::Env env) {
    const Mapping& mapping = region->mapping();
    uintptr_t id = MappedRegistry::Get().Add(region);
    return HeldBuffer<MappedRegistry>(env, mapping.data, mapping.length, id, "mapFile");
  }
  // A range past the end of the file: a RangeError in node's words, saying how far it may go.
  Napi::Error Failure(Napi::Env env, const Status& status) const {
    if (status.err != kPastEndOfFile) return MakeError(env, status);
    const char* why = "a mapping must lie inside the file: grow the file first to map more";
    std::string message =
        request.offset >= fileSize
            ? "The value of \"offset\" is out of range. It must be < " + std::to_string(fileSize) +
                  " (the file's size; " + why + "). Received " + RangeNumber(request.offset)
            : "The value of \"length\" is out of range. It must be <= " + std::to_string(fileSize - request.offset) +
                  " (the file's size past \"offset\"; " + why + "). Received " + RangeNumber(request.length);
    Napi::RangeError error = Napi::RangeError::New(env, message);
    error.Set("code", "ERR_OUT_OF_RANGE");
    return error;
  }
};

// msync(view, offset, length): [offset, offset + length) of the view, durable. A flush with no
// kernel-queue form (io_uring has no msync): it runs on a flush thread, holding the mapping,
// so that an unmapFile meanwhile cannot unmap the memory under it.
struct MsyncOp : OpBase {
  static constexpr bool kFlush = true;
  std::shared_ptr<MappedRegion> region;
  size_t offset = 0;  // from the mapping's first byte
  size_t length = 0;
  bool Parse(const Napi::CallbackInfo& info, bool) {
    MappedView view;
    int64_t from = 0;
    int64_t bytes = 0;
    if (!ArgMappedView(info, 0, &view) || !ArgInt64(info, 1, "offset", &from) || !ArgInt64(info, 2, "length", &bytes)) {
      return false;
    }
    if (from < 0 || static_cast<uint64_t>(from) > view.length) return ThrowOutOfRange(info.Env(), "offset", "the view");
    if (bytes < 0 || static_cast<uint64_t>(bytes) > view.length - static_cast<size_t>(from)) {
      return ThrowOutOfRange(info.Env(), "length", "the view past offset");
    }
    region = std::move(view.block);
    offset = view.offset + static_cast<size_t>(from);
    length = static_cast<size_t>(bytes);
    return true;
  }
  Status Run() { return SyncMapping(region->mapping(), offset, length); }
};

// unmapFile(view): detaches the mapping's ArrayBuffer, so that every view of it reads as
// empty and throws on access instead of touching unmapped memory, and unmaps it now (or, if
// an msync is in flight on it, once that has returned).
Napi::Value UnmapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MappedView view;
  if (!ArgMappedView(info, 0, &view)) return env.Undefined();
  if (napi_detach_arraybuffer(env, view.arraybuffer) != napi_ok) {
    Napi::Error error = Napi::Error::New(env, "hardsync: the mapping's ArrayBuffer cannot be detached: it stays mapped");
    error.Set("code", "ERR_INVALID_STATE");
    error.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const void* data = view.block->Data();
  view.block.reset();
  MappedRegistry::Get().Remove(data, view.id);  // the last reference, unless an msync holds one
  return env.Undefined();
}

// The benchmark's timed loop (native/bench.cc) on the threadpool. The spec is one object
// built by bench/measure/native-loop.ts, checked field by field in bench_spec.cc. Resolves with
// the latencies as a Float64Array (ns): one per operation, or one per sampleEvery operations
// when that is given (see bench.h).
struct BenchLoopOp : OpBase {
  BenchSpec spec;
  BenchOutcome outcome;
  bool Parse(const Napi::CallbackInfo& info, bool) { return ParseBenchSpec(info.Env(), info[0], &spec); }
  Status Run() { return RunBench(spec, &outcome); }
  const char* Path() const { return outcome.failedPath.empty() ? nullptr : outcome.failedPath.c_str(); }
  Napi::Value Result(Napi::Env env) const { return BenchResult(env, outcome); }
};

// How many bytes past the start of a view its first `alignment`-aligned address lies.
Napi::Value AlignmentOffset(const Napi::CallbackInfo& info) {
  const uint8_t* data = nullptr;
  size_t length = 0;
  int64_t alignment = 0;
  if (!ArgBytes(info, 0, &data, &length) || !ArgInt64(info, 1, "alignment", &alignment)) {
    return info.Env().Undefined();
  }
  if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
    ThrowInvalidArgType(info.Env(), "alignment", "a power of two");
    return info.Env().Undefined();
  }
  uintptr_t address = reinterpret_cast<uintptr_t>(data);
  uintptr_t mask = static_cast<uintptr_t>(alignment) - 1;
  return Napi::Number::New(info.Env(), static_cast<double>((alignment - (address & mask)) & mask));
}

// crc32c(crc, data, offset, length): the CRC-32C of bytes [offset, offset + length) of data,
// continuing crc. Synchronous: a checksum is cheaper than any hop to another thread.
template <uint32_t (*kCrc)(uint32_t, const uint8_t*, size_t)>
Napi::Value Crc32cOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t crc = 0;
  const uint8_t* data = nullptr;
  size_t size = 0;
  int64_t offset = 0;
  int64_t length = 0;
  if (!ArgInt64(info, 0, "crc", &crc) || !ArgBytes(info, 1, &data, &size) || !ArgInt64(info, 2, "offset", &offset) ||
      !ArgInt64(info, 3, "length", &length)) {
    return env.Undefined();
  }
  bool ok = crc >= 0 && crc <= 0xffffffffLL ? true : ThrowOutOfRange(env, "crc", "an unsigned 32-bit integer");
  if (ok && (offset < 0 || static_cast<uint64_t>(offset) > size)) ok = ThrowOutOfRange(env, "offset", "the view");
  if (ok && (length < 0 || static_cast<uint64_t>(length) > size - static_cast<size_t>(offset))) {
    ok = ThrowOutOfRange(env, "length", "the view from offset");
  }
  if (!ok) return env.Undefined();
  uint32_t result = kCrc(static_cast<uint32_t>(crc), data + offset, static_cast<size_t>(length));
  return Napi::Number::New(env, result);
}

// The largest arena logArena makes: a record of the log is at most a segment, and a Buffer
// this size is one every supported Node can make.
constexpr int64_t kMaxArena = int64_t{1} << 30;

// logArena(size): a Buffer of `size` bytes of native memory (arena.h) that writeArena takes.
// Its contents start undefined, as Buffer.allocUnsafe's do.
Napi::Value LogArena(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t size = 0;
  if (!ArgInt64(info, 0, "size", &size)) return env.Undefined();
  if (size < 1 || size > kMaxArena) {
    ThrowOutOfRange(env, "size", "an arena (1 to 2^30 bytes)");
    return env.Undefined();
  }
  std::shared_ptr<ArenaBlock> block = ArenaBlock::Make(static_cast<size_t>(size));
  if (!block) {
    Napi::RangeError::New(env, "hardsync: cannot allocate the arena").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uintptr_t id = ArenaRegistry::Get().Add(block);
  return HeldBuffer<ArenaRegistry>(env, block->Data(), block->Length(), id, "logArena");
}

// frameBatch(arena, bytes, batchEnd): completes the frames in bytes [0, bytes) of the view
// (log_frames.h): their batch end and CRC-32C. Returns how many frames. A range that is not
// whole frames is a RangeError and nothing is written. Synchronous: one pass over the batch
// costs less than any hop to another thread.
Napi::Value FrameBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data = nullptr;
  size_t size = 0;
  int64_t bytes = 0;
  int64_t batch_end = 0;
  if (!ArgBytes(info, 0, &data, &size) || !ArgInt64(info, 1, "bytes", &bytes) ||
      !ArgInt64(info, 2, "batchEnd", &batch_end)) {
    return env.Undefined();
  }
  bool ok = bytes >= 0 && static_cast<uint64_t>(bytes) <= size ? true : ThrowOutOfRange(env, "bytes", "the view");
  if (ok && (batch_end < 0 || batch_end > 0xffffffffLL)) ok = ThrowOutOfRange(env, "batchEnd", "an unsigned 32-bit integer");
  if (!ok) return env.Undefined();
  // The view's bytes are the caller's to change: the frames are completed in place.
  int64_t frames = CompleteFrames(const_cast<uint8_t*>(data), static_cast<size_t>(bytes), static_cast<uint32_t>(batch_end));
  if (frames < 0) {
    ThrowOutOfRange(env, "bytes", "whole frames (each starting with the record magic, the last ending at bytes)");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(frames));
}

Napi::Value CapabilityTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Capability* table = Capabilities();
  Napi::Array array = Napi::Array::New(env, kCapabilityCount);
  for (int i = 0; i < kCapabilityCount; i++) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", kCapabilityNames[static_cast<int>(table[i].id)]);
    entry.Set("supported", table[i].supported);
    entry.Set("syscall", table[i].syscall);
    if (table[i].durable != Durability::kNotAFlush) entry.Set("durable", table[i].durable == Durability::kDurable);
    array.Set(static_cast<uint32_t>(i), entry);
  }
  return array;
}

// ---- The shared vocabulary (platform.h), exported frozen for lib/ and bench/ ----------------

// {name: value} for names[i] -> values(i), frozen.
template <typename Value>
Napi::Object FrozenTable(Napi::Env env, const char* const* names, int count, Value value) {
  Napi::Object object = Napi::Object::New(env);
  for (int i = 0; i < count; i++) object.Set(names[i], Napi::Number::New(env, static_cast<double>(value(i))));
  object.Freeze();
  return object;
}

// [names...], frozen.
Napi::Array FrozenNames(Napi::Env env, const char* const* names, int count) {
  Napi::Array array = Napi::Array::New(env, static_cast<size_t>(count));
  for (int i = 0; i < count; i++) array.Set(static_cast<uint32_t>(i), names[i]);
  array.Freeze();
  return array;
}

Napi::Object ConstantTable(Napi::Env env) {
  const NamedConstant* table = Constants();
  return FrozenTable(env, kConstantNames, kConstantCount, [table](int i) { return table[i].value; });
}

template <typename Op>
void ExportPair(Napi::Env env, Napi::Object exports, const char* name, Engine* engine) {
  exports.Set(name, Napi::Function::New(env, Dispatch<Op, true>, name, engine));
  std::string sync_name = std::string(name) + "Sync";
  exports.Set(sync_name, Napi::Function::New(env, Dispatch<Op, false>, sync_name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::string engine_error;
  Engine* engine = Engine::Create(env, &engine_error);
  if (engine == nullptr) {
    Napi::Error error = Napi::Error::New(env, "hardsync: " + engine_error);
    error.Set("code", "ERR_INVALID_ARG_VALUE");
    error.ThrowAsJavaScriptException();
    return exports;
  }
  ExportPair<FlushOp<FlushKind::kFsync>>(env, exports, "fsync", engine);
  ExportPair<FlushOp<FlushKind::kData>>(env, exports, "fdatasync", engine);
  ExportPair<FlushOp<FlushKind::kFull>>(env, exports, "fullFsync", engine);
  ExportPair<FlushOp<FlushKind::kBarrier>>(env, exports, "barrierFsync", engine);
  ExportPair<FlushOp<FlushKind::kSyncfs>>(env, exports, "syncfs", engine);
  ExportPair<SyncFileRangeOp>(env, exports, "syncFileRange", engine);
  ExportPair<FsyncDirOp>(env, exports, "fsyncDir", engine);
  ExportPair<OpenOp>(env, exports, "open", engine);
  ExportPair<PreallocateOp>(env, exports, "preallocate", engine);
  ExportPair<WriteDurableOp>(env, exports, "writeDurable", engine);
  ExportPair<ReplaceOp>(env, exports, "replaceFile", engine);
  ExportPair<LockOp>(env, exports, "lockFile", engine);
  ExportPair<UnlockOp>(env, exports, "unlockFile", engine);
  ExportPair<DioAlignmentOp>(env, exports, "dioAlignment", engine);
  ExportPair<MapFileOp>(env, exports, "mapFile", engine);
  ExportPair<MsyncOp>(env, exports, "msync", engine);
  exports.Set("unmapFile", Napi::Function::New(env, UnmapFile, "unmapFile"));
  exports.Set("benchLoop", Napi::Function::New(env, Dispatch<BenchLoopOp, true>, "benchLoop", engine));
  exports.Set("engineInfo", Napi::Function::New(
      env, [](const Napi::CallbackInfo& info) -> Napi::Value { return static_cast<Engine*>(info.Data())->Info(info.Env()); },
      "engineInfo", engine));
  exports.Set("alignmentOffset", Napi::Function::New(env, AlignmentOffset, "alignmentOffset"));
  exports.Set("capabilities", Napi::Function::New(env, CapabilityTable, "capabilities"));
  exports.Set("crc32c", Napi::Function::New(env, Crc32cOf<Crc32c>, "crc32c"));
  exports.Set("crc32cPortable", Napi::Function::New(env, Crc32cOf<Crc32cPortable>, "crc32cPortable"));
  exports.Set("frameBatch", Napi::Function::New(env, FrameBatch, "frameBatch"));
  exports.Set("logArena", Napi::Function::New(env, LogArena, "logArena"));
  exports.Set("writeArena", Napi::Function::New(env, Dispatch<WriteArenaOp, true>, "writeArena", engine));
  exports.Set("crc32cImplementation", Napi::String::New(env, Crc32cImplementation()));
  exports.Set("constants", ConstantTable(env));
  exports.Set("flushKinds", FrozenTable(env, kFlushKindNames, kFlushKindCount, [](int i) { return i; }));
  exports.Set("openBits", FrozenTable(env, kOpenOptionNames, kOpenOptionCount, [](int i) { return 1 << i; }));
  exports.Set("capabilityNames", FrozenNames(env, kCapabilityNames, kCapabilityCount));
  exports.Set("platform", Napi::String::New(env, PlatformName()));
  exports.Set("defaultDioAlignment", Napi::Number::New(env, DefaultDioAlignment()));
  return exports;
}

}  // namespace
}  // namespace hs

static Napi::Object InitHardsync(Napi::Env env, Napi::Object exports) { return hs::Init(env, exports); }

NODE_API_MODULE(hardsync, InitHardsync)

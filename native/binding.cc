// The only file that speaks Node-API: argument unpacking, the ops, the export table.
// lib/ validates every argument first and throws node-style errors; the checks here are a
// second line so that no call from JavaScript, however wrong, can crash the process.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "bench.h"
#include "errors.h"
#include "platform.h"
#include "workers.h"

namespace hs {
namespace {

bool ThrowArgType(Napi::Env env, const char* name, const char* expected) {
  Napi::TypeError error = Napi::TypeError::New(
      env, std::string("The \"") + name + "\" argument must be " + expected);
  error.Set("code", "ERR_INVALID_ARG_TYPE");
  error.ThrowAsJavaScriptException();
  return false;
}

bool ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  Napi::Value value = info[i];
  if (!value.IsNumber()) return ThrowArgType(info.Env(), name, "of type number");
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= -2147483648.0 && number <= 2147483647.0) || number != static_cast<int32_t>(number)) {
    return ThrowArgType(info.Env(), name, "a 32-bit integer");
  }
  *out = static_cast<int32_t>(number);
  return true;
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, int* fd) {
  int32_t value = -1;
  if (!ArgInt32(info, i, "fd", &value)) return false;
  if (value < 0) return ThrowArgType(info.Env(), "fd", "a non-negative integer");
  *fd = value;
  return true;
}

bool ArgInt64(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  Napi::Value value = info[i];
  if (!value.IsNumber()) return ThrowArgType(info.Env(), name, "of type number");
  double number = value.As<Napi::Number>().DoubleValue();
  constexpr double kMaxSafe = 9007199254740991.0;
  if (!(number >= -kMaxSafe && number <= kMaxSafe) || number != static_cast<double>(static_cast<int64_t>(number))) {
    return ThrowArgType(info.Env(), name, "a safe integer");
  }
  *out = static_cast<int64_t>(number);
  return true;
}

bool ArgPath(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  Napi::Value value = info[i];
  if (!value.IsString()) return ThrowArgType(info.Env(), name, "of type string");
  *out = value.As<Napi::String>().Utf8Value();
  if (out->empty() || std::memchr(out->data(), '\0', out->size()) != nullptr) {
    return ThrowArgType(info.Env(), name, "a non-empty string without null bytes");
  }
  return true;
}

// The bytes of a TypedArray or DataView (a Buffer is a Uint8Array). A detached buffer
// reads as zero length, which is what it is.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const uint8_t** data, size_t* length) {
  napi_env env = info.Env();
  napi_value value = info[i];
  bool is_typed_array = false;
  bool is_data_view = false;
  napi_is_typedarray(env, value, &is_typed_array);
  if (!is_typed_array) napi_is_dataview(env, value, &is_data_view);
  void* raw = nullptr;
  size_t byte_length = 0;
  if (is_typed_array) {
    napi_typedarray_type type;
    size_t element_count;
    if (napi_get_typedarray_info(env, value, &type, &element_count, &raw, nullptr, nullptr) != napi_ok) {
      return ThrowArgType(env, "data", "a Buffer, TypedArray or DataView");
    }
    size_t element_size = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: element_size = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: element_size = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: element_size = 8; break;
      default: element_size = 1; break;
    }
    byte_length = element_count * element_size;
  } else if (is_data_view) {
    if (napi_get_dataview_info(env, value, &byte_length, &raw, nullptr, nullptr) != napi_ok) {
      return ThrowArgType(env, "data", "a Buffer, TypedArray or DataView");
    }
  } else {
    return ThrowArgType(env, "data", "an instance of Buffer, TypedArray, or DataView");
  }
  *data = static_cast<const uint8_t*>(raw);
  *length = raw == nullptr ? 0 : byte_length;
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
  AsyncRequest* Request() { return nullptr; }
  const char* Path() const { return nullptr; }
  const char* Dest() const { return nullptr; }
  void Annotate(Napi::Error&) const {}
  Napi::Value Result(Napi::Env env) const { return env.Undefined(); }
};

using FdCall = Status (*)(int);

// A flush of one fd. kQueued: the Flush a kernel queue runs for it (kNone: it has no queued
// form, e.g. syncfs, and always runs on a flush thread).
template <FdCall kCall, Flush kQueued>
struct FlushOp : OpBase {
  static constexpr bool kFlush = true;
  int fd = -1;
  AsyncRequest request;
  bool Parse(const Napi::CallbackInfo& info, bool) { return ArgFd(info, 0, &fd); }
  Status Run() { return kCall(fd); }
  AsyncRequest* Request() {
    if (kQueued == Flush::kNone) return nullptr;
    request.kind = AsyncRequest::Kind::kFlush;
    request.fd = fd;
    request.flush = kQueued;
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

// Bits of the packed open request built by lib/open.ts.
enum OpenBits : int32_t {
  kRead = 1, kWrite = 2, kCreate = 4, kExclusive = 8, kTruncate = 16, kAppend = 32,
  kDsync = 64, kSync = 128, kDirect = 256, kNofollow = 512,
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
    request.read = bits & kRead;
    request.write = bits & kWrite;
    request.create = bits & kCreate;
    request.exclusive = bits & kExclusive;
    request.truncate = bits & kTruncate;
    request.append = bits & kAppend;
    request.dsync = bits & kDsync;
    request.sync = bits & kSync;
    request.direct = bits & kDirect;
    request.nofollow = bits & kNofollow;
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
        !ArgInt64(info, 2, "position", &position) || !ArgInt32(info, 3, "flush", &flush)) {
      return false;
    }
    if (flush < static_cast<int32_t>(Flush::kNone) || flush > static_cast<int32_t>(Flush::kBarrier)) {
      return ThrowArgType(info.Env(), "flush", "one of 'none', 'data', 'full', 'fsync', 'barrier'");
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
    return RunFlush(fd, static_cast<Flush>(flush));
  }
  AsyncRequest* Request() {
    request.kind = AsyncRequest::Kind::kWrite;
    request.fd = fd;
    request.data = data;
    request.length = length;
    request.position = position;
    request.flush = static_cast<Flush>(flush);
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

// The benchmark's timed loop (native/bench.cc) on the threadpool. The spec is one object
// built by bench/measure/native-loop.ts; every field is checked here again, so no spec,
// however wrong, reaches RunBench. Resolves with the latencies as a Float64Array (ns): one per
// operation, or one per sampleEvery operations when that is given (see bench.h).
struct BenchLoopOp : OpBase {
  BenchSpec spec;
  BenchOutcome outcome;

  static bool OutOfRange(Napi::Env env, const char* name) {
    Napi::RangeError error = Napi::RangeError::New(
        env, std::string("The value of \"spec.") + name + "\" is out of range for the benchmark loop");
    error.Set("code", "ERR_OUT_OF_RANGE");
    error.ThrowAsJavaScriptException();
    return false;
  }

  static bool Number(Napi::Object object, const char* name, double min, double max, bool integer, double* out) {
    Napi::Value value = object.Get(name);
    if (object.Env().IsExceptionPending()) return false;
    if (!value.IsNumber()) return ThrowArgType(object.Env(), name, "of type number");
    double number = value.As<Napi::Number>().DoubleValue();
    if (!(number >= min && number <= max) || (integer && number != static_cast<double>(static_cast<int64_t>(number)))) {
      return OutOfRange(object.Env(), name);
    }
    *out = number;
    return true;
  }

  static bool Flag(Napi::Object object, const char* name, bool* out) {
    Napi::Value value = object.Get(name);
    if (object.Env().IsExceptionPending()) return false;
    if (!value.IsBoolean()) return ThrowArgType(object.Env(), name, "of type boolean");
    *out = value.As<Napi::Boolean>().Value();
    return true;
  }

  static bool Text(Napi::Object object, const char* name, std::string* out) {
    Napi::Value value = object.Get(name);
    if (object.Env().IsExceptionPending()) return false;
    if (!value.IsString()) return ThrowArgType(object.Env(), name, "of type string");
    *out = value.As<Napi::String>().Utf8Value();
    if (out->empty() || std::memchr(out->data(), '\0', out->size()) != nullptr) {
      return ThrowArgType(object.Env(), name, "a non-empty string without null bytes");
    }
    return true;
  }

  bool Parse(const Napi::CallbackInfo& info, bool) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) return ThrowArgType(env, "spec", "of type object");
    Napi::Object object = info[0].As<Napi::Object>();
    Napi::Value files = object.Get("files");
    if (env.IsExceptionPending()) return false;
    if (!files.IsArray()) return ThrowArgType(env, "files", "an array of strings");
    Napi::Array list = files.As<Napi::Array>();
    if (list.Length() == 0 || list.Length() > kBenchMaxThreads) return OutOfRange(env, "files");
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Object holder = Napi::Object::New(env);
      holder.Set("files[]", list.Get(i));
      if (env.IsExceptionPending()) return false;
      std::string file;
      if (!Text(holder, "files[]", &file)) return false;
      spec.files.push_back(std::move(file));
    }
    double sequence, flush, placement, sfr, size, writes, alignment, region, prefill, seconds, samples;
    if (!Text(object, "directory", &spec.directory) ||
        !Number(object, "sequence", 0, static_cast<double>(BenchSequence::kAtomicReplace), true, &sequence) ||
        !Number(object, "flush", 0, static_cast<double>(BenchFlush::kSyncfs), true, &flush) ||
        !Number(object, "placement", 0, static_cast<double>(BenchPlacement::kPreallocated), true, &placement) ||
        !Flag(object, "dsync", &spec.dsync) || !Flag(object, "sync", &spec.sync) ||
        !Flag(object, "direct", &spec.direct) || !Flag(object, "fsyncDirectory", &spec.fsyncDirectory) ||
        !Number(object, "syncFileRangeFlags", 0, 0xffff, true, &sfr) ||
        !Number(object, "size", 1, kBenchMaxSize, true, &size) ||
        !Number(object, "writesPerOp", 1, kBenchMaxWritesPerOp, true, &writes) ||
        !Number(object, "alignment", 1, 1 << 24, true, &alignment) ||
        !Number(object, "regionBytes", 0, static_cast<double>(kBenchMaxRegion), true, &region) ||
        !Number(object, "prefillBytes", 0, static_cast<double>(kBenchMaxRegion), true, &prefill) ||
        !Number(object, "seconds", 0, 86400, false, &seconds) ||
        !Number(object, "maxSamples", 1, static_cast<double>(kBenchMaxSamples), true, &samples)) {
      return false;
    }
    spec.sequence = static_cast<BenchSequence>(static_cast<int>(sequence));
    spec.flush = static_cast<BenchFlush>(static_cast<int>(flush));
    spec.placement = static_cast<BenchPlacement>(static_cast<int>(placement));
    spec.syncFileRangeFlags = static_cast<unsigned>(sfr);
    spec.size = static_cast<uint32_t>(size);
    spec.writesPerOp = static_cast<uint32_t>(writes);
    spec.alignment = static_cast<uint32_t>(alignment);
    spec.regionBytes = static_cast<int64_t>(region);
    spec.prefillBytes = static_cast<int64_t>(prefill);
    spec.seconds = seconds;
    spec.maxSamples = static_cast<uint64_t>(samples);
    // sampleEvery is the one optional field (absent or undefined: 1, every operation timed);
    // when given it is checked like the others.
    Napi::Value every = object.Get("sampleEvery");
    if (env.IsExceptionPending()) return false;
    if (!every.IsUndefined()) {
      double sampleEvery;
      if (!Number(object, "sampleEvery", 1, kBenchMaxSampleEvery, true, &sampleEvery)) return false;
      spec.sampleEvery = static_cast<uint32_t>(sampleEvery);
    }
    if ((spec.alignment & (spec.alignment - 1)) != 0) return OutOfRange(env, "alignment");
    bool usesRegion = spec.sequence != BenchSequence::kNewFile && spec.sequence != BenchSequence::kAtomicReplace;
    if (usesRegion && spec.regionBytes < static_cast<int64_t>(spec.size) * spec.writesPerOp) {
      return OutOfRange(env, "regionBytes");
    }
    return true;
  }
  Status Run() { return RunBench(spec, &outcome); }
  const char* Path() const { return outcome.failedPath.empty() ? nullptr : outcome.failedPath.c_str(); }
  Napi::Value Result(Napi::Env env) const {
    Napi::Object result = Napi::Object::New(env);
    size_t bytes = static_cast<size_t>(outcome.samples) * sizeof(double);
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
    if (bytes != 0) std::memcpy(buffer.Data(), outcome.samplesNs.get(), bytes);
    result.Set("samplesNs", Napi::Float64Array::New(env, static_cast<size_t>(outcome.samples), buffer, 0));
    result.Set("ops", Napi::Number::New(env, static_cast<double>(outcome.ops)));
    result.Set("busyNs", Napi::Number::New(env, outcome.busyNs));
    result.Set("wallNs", Napi::Number::New(env, outcome.wallNs));
    return result;
  }
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
    ThrowArgType(info.Env(), "alignment", "a power of two");
    return info.Env().Undefined();
  }
  uintptr_t address = reinterpret_cast<uintptr_t>(data);
  uintptr_t mask = static_cast<uintptr_t>(alignment) - 1;
  return Napi::Number::New(info.Env(), static_cast<double>((alignment - (address & mask)) & mask));
}

Napi::Value CapabilityTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t count = 0;
  const Capability* table = Capabilities(&count);
  Napi::Array array = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", table[i].name);
    entry.Set("supported", table[i].supported);
    entry.Set("syscall", table[i].syscall);
    if (table[i].durable != Durability::kNotAFlush) entry.Set("durable", table[i].durable == Durability::kDurable);
    array.Set(static_cast<uint32_t>(i), entry);
  }
  return array;
}

Napi::Object ConstantTable(Napi::Env env) {
  size_t count = 0;
  const NamedConstant* table = Constants(&count);
  Napi::Object object = Napi::Object::New(env);
  for (size_t i = 0; i < count; i++) {
    object.Set(table[i].name, Napi::Number::New(env, static_cast<double>(table[i].value)));
  }
  return object;
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
  ExportPair<FlushOp<Fsync, Flush::kFsync>>(env, exports, "fsync", engine);
  ExportPair<FlushOp<Fdatasync, Flush::kData>>(env, exports, "fdatasync", engine);
  ExportPair<FlushOp<FullFsync, Flush::kFull>>(env, exports, "fullFsync", engine);
  ExportPair<FlushOp<BarrierFsync, Flush::kBarrier>>(env, exports, "barrierFsync", engine);
  ExportPair<FlushOp<Syncfs, Flush::kNone>>(env, exports, "syncfs", engine);
  ExportPair<SyncFileRangeOp>(env, exports, "syncFileRange", engine);
  ExportPair<FsyncDirOp>(env, exports, "fsyncDir", engine);
  ExportPair<OpenOp>(env, exports, "open", engine);
  ExportPair<PreallocateOp>(env, exports, "preallocate", engine);
  ExportPair<WriteDurableOp>(env, exports, "writeDurable", engine);
  ExportPair<ReplaceOp>(env, exports, "replaceFile", engine);
  ExportPair<LockOp>(env, exports, "lockFile", engine);
  ExportPair<UnlockOp>(env, exports, "unlockFile", engine);
  ExportPair<DioAlignmentOp>(env, exports, "dioAlignment", engine);
  exports.Set("benchLoop", Napi::Function::New(env, Dispatch<BenchLoopOp, true>, "benchLoop", engine));
  exports.Set("engineInfo", Napi::Function::New(
      env, [](const Napi::CallbackInfo& info) -> Napi::Value { return static_cast<Engine*>(info.Data())->Info(info.Env()); },
      "engineInfo", engine));
  exports.Set("alignmentOffset", Napi::Function::New(env, AlignmentOffset, "alignmentOffset"));
  exports.Set("capabilities", Napi::Function::New(env, CapabilityTable, "capabilities"));
  exports.Set("constants", ConstantTable(env));
  exports.Set("platform", Napi::String::New(env, PlatformName()));
  exports.Set("defaultDioAlignment", Napi::Number::New(env, DefaultDioAlignment()));
  return exports;
}

}  // namespace
}  // namespace hs

static Napi::Object InitHardsync(Napi::Env env, Napi::Object exports) { return hs::Init(env, exports); }

NODE_API_MODULE(hardsync, InitHardsync)

// The benchmark's timed loop (see bench.h). Every call goes through platform.h, so the same
// loop measures fdatasync on Linux, F_FULLFSYNC on macOS and FlushFileBuffers on Windows.
#include "bench.h"

#include <chrono>
#include <cstring>
#include <new>
#include <thread>

#include <uv.h>

namespace hs {
namespace {

using Clock = std::chrono::steady_clock;

// The bytes every write sends: one `size`-byte buffer aligned for direct I/O, filled with a
// non-repeating pattern so that a compressing or deduplicating device cannot shortcut it.
class WriteBuffer {
 public:
  WriteBuffer() = default;
  WriteBuffer(const WriteBuffer&) = delete;
  WriteBuffer& operator=(const WriteBuffer&) = delete;
  ~WriteBuffer() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t(alignment_));
  }
  bool Allocate(size_t size, size_t alignment, uint64_t seed) {
    if (alignment < alignof(std::max_align_t)) alignment = alignof(std::max_align_t);
    data_ = static_cast<uint8_t*>(::operator new(size == 0 ? 1 : size, std::align_val_t(alignment), std::nothrow));
    if (data_ == nullptr) return false;
    alignment_ = alignment;
    size_ = size;
    uint64_t state = seed | 1;
    for (size_t i = 0; i < size; i++) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      data_[i] = static_cast<uint8_t>(state);
    }
    return true;
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t alignment_ = alignof(std::max_align_t);
};

Status OpenForBench(const BenchSpec& spec, const char* path, bool create, bool truncate, int* fd) {
  OpenRequest request;
  request.write = true;
  request.create = create;
  request.truncate = truncate;
  request.dsync = spec.dsync;
  request.sync = spec.sync;
  request.direct = spec.direct;
  request.mode = 0600;
  return Open(path, request, fd);
}

Status OpenPlain(const char* path, bool create, bool truncate, int* fd) {
  OpenRequest request;
  request.write = true;
  request.create = create;
  request.truncate = truncate;
  request.mode = 0600;
  return Open(path, request, fd);
}

// Closes fd and reports the first of the two failures: a close error after a good flush
// still means the operation failed (NFS reports write errors at close).
Status CloseAfter(int fd, Status status) {
  Status closed = Close(fd);
  return status.ok() ? closed : status;
}

// Writes the overwrite region (or an empty file for append) before timing, and makes it
// durable, so the timed overwrites change no allocation or size: what etcd's preallocated
// WAL and pg_test_fsync's pre-written file measure.
Status Prepare(const BenchSpec& spec, const std::string& file, const WriteBuffer& buffer) {
  int fd = -1;
  Status status = OpenPlain(file.c_str(), true, true, &fd);
  if (!status.ok()) return status;
  if (spec.placement == BenchPlacement::kOverwrite) {
    const int64_t fill = spec.prefillBytes > spec.regionBytes ? spec.prefillBytes : spec.regionBytes;
    for (int64_t at = 0; status.ok() && at < fill; at += static_cast<int64_t>(buffer.size())) {
      size_t chunk = buffer.size();
      if (fill - at < static_cast<int64_t>(chunk)) chunk = static_cast<size_t>(fill - at);
      size_t written = 0;
      status = WriteAll(fd, buffer.data(), chunk, at, &written);
    }
  } else if (spec.placement == BenchPlacement::kPreallocated) {
    status = Preallocate(fd, 0, spec.regionBytes);
  }
  if (status.ok()) status = Fsync(fd);
  return CloseAfter(fd, status);
}

// The mmap-msync method (BenchSequence::kMapped), apart from the write paths: one shared
// mapping of the prepared region per thread; an operation stores its bytes through it and
// msyncs them, with the calls msync() makes (SyncMapping), as writes + RunFlush are
// writeDurable's.
class MappedStores {
 public:
  MappedStores() = default;
  MappedStores(const MappedStores&) = delete;
  MappedStores& operator=(const MappedStores&) = delete;
  ~MappedStores() { Close(); }

  // Opens (read-write: a shared mapping needs both) and maps the first `bytes` of path.
  Status Open(const char* path, int64_t bytes) {
    OpenRequest request;
    request.read = true;
    request.write = true;
    Status status = hs::Open(path, request, &fd_);
    if (!status.ok()) return status;
    MapRequest map;
    map.fd = fd_;
    map.length = bytes;
    return MapFile(map, &mapping_);
  }

  Status StoreAndSync(const WriteBuffer& buffer, int64_t position, uint32_t stores) {
    const size_t size = buffer.size();
    for (uint32_t i = 0; i < stores; i++) {
      std::memcpy(mapping_.data + static_cast<size_t>(position) + i * size, buffer.data(), size);
    }
    return SyncMapping(mapping_, static_cast<size_t>(position), size * stores);
  }

  // Unmaps and closes; the close's failure, if any (the mapping's own release cannot fail).
  Status Close() {
    Unmap(&mapping_);
    if (fd_ < 0) return Ok();
    Status closed = hs::Close(fd_);
    fd_ = -1;
    return closed;
  }

 private:
  int fd_ = -1;
  Mapping mapping_;
};

struct ThreadState {
  const BenchSpec* spec = nullptr;
  const std::string* file = nullptr;
  const WriteBuffer* buffer = nullptr;
  std::atomic<bool>* stop = nullptr;
  Clock::time_point deadline;
  double* samples = nullptr;  // room for maxSamples entries
  uint64_t maxSamples = 0;
  uint64_t samplesTaken = 0;
  uint64_t ops = 0;
  double busyNs = 0;
  Clock::time_point begin;  // the first operation's start (valid once samplesTaken > 0)
  Clock::time_point end;    // the last operation's end
  Status status;
  std::string failedPath;
};

class Loop {
 public:
  explicit Loop(ThreadState* state)
      : state_(*state), spec_(*state->spec), file_(*state->file),
        newFile_(file_ + ".new"), tempFile_(file_ + ".tmp") {}

  void Run() {
    Status status = Setup();
    const uint64_t opBytes = static_cast<uint64_t>(spec_.size) * spec_.writesPerOp;
    const uint64_t every = spec_.sampleEvery;
    uint64_t untimed = 0;  // operations left to run without a clock read before the next timed one
    while (status.ok()) {
      // The other threads' failure flag is checked before a timed operation only, and the
      // limits after one, so a run always ends on a timed operation: `end` is the end of the
      // last operation counted in `ops`.
      if (untimed == 0 && state_.stop->load(std::memory_order_relaxed)) break;
      status = Place(opBytes);
      if (!status.ok()) break;
      if (untimed != 0) {
        // sampleEvery > 1: as pg_test_fsync's loop does, no clock read around the operation.
        status = Operation();
        if (!status.ok()) break;
        untimed--;
        state_.ops++;
        position_ += static_cast<int64_t>(opBytes);
        status = AfterOperation();
        continue;
      }
      Clock::time_point start = Clock::now();
      status = Operation();
      Clock::time_point finish = Clock::now();
      if (!status.ok()) break;
      double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(finish - start).count());
      if (state_.samplesTaken == 0) state_.begin = start;
      state_.samples[state_.samplesTaken++] = ns;
      state_.ops++;
      state_.busyNs += ns;
      state_.end = finish;
      untimed = every - 1;
      position_ += static_cast<int64_t>(opBytes);
      status = AfterOperation();
      if (finish >= state_.deadline || state_.samplesTaken >= state_.maxSamples) break;
    }
    // With untimed operations the summed samples are not the time spent: the loop's elapsed
    // time is (its operations ran back to back).
    if (every > 1 && state_.samplesTaken != 0) {
      state_.busyNs = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(state_.end - state_.begin).count());
    }
    Status unmapped = mapped_.Close();
    if (status.ok() && !unmapped.ok()) {
      status = unmapped;
      path_ = file_.c_str();
    }
    if (fd_ >= 0) {
      Status closed = Close(fd_);
      fd_ = -1;
      if (status.ok() && !closed.ok()) {
        status = closed;
        path_ = file_.c_str();
      }
    }
    if (!status.ok()) {
      state_.status = status;
      state_.failedPath = path_ != nullptr ? path_ : "";
      state_.stop->store(true);
    }
  }

 private:
  Status Setup() {
    path_ = file_.c_str();
    if (spec_.sequence == BenchSequence::kMapped) return mapped_.Open(path_, spec_.regionBytes);
    if (spec_.sequence != BenchSequence::kPlain) return Ok();
    // Append starts from an empty file; overwrite keeps the region Prepare wrote.
    return OpenForBench(spec_, path_, false, spec_.placement == BenchPlacement::kAppend, &fd_);
  }

  // Untimed: where this operation writes. Overwrite wraps to the region's start; append
  // truncates the file back to 0 when it reaches its limit, so a long run on a fast device
  // cannot fill the disk.
  Status Place(uint64_t opBytes) {
    if (spec_.sequence == BenchSequence::kNewFile || spec_.sequence == BenchSequence::kAtomicReplace) {
      position_ = 0;
      return Ok();
    }
    if (position_ + static_cast<int64_t>(opBytes) <= spec_.regionBytes) return Ok();
    position_ = 0;
    if (spec_.placement != BenchPlacement::kAppend) return Ok();
    path_ = file_.c_str();
    if (fd_ >= 0) return Truncate(fd_, 0);
    int fd = -1;
    Status status = OpenPlain(path_, false, true, &fd);
    return status.ok() ? Close(fd) : status;
  }

  Status Writes(int fd) {
    for (uint32_t i = 0; i < spec_.writesPerOp; i++) {
      size_t written = 0;
      Status status = WriteAll(fd, state_.buffer->data(), spec_.size,
                               position_ + static_cast<int64_t>(i) * spec_.size, &written);
      if (!status.ok()) return status;
    }
    if (spec_.syncFileRangeFlags != 0) {
      return SyncFileRange(fd, position_, static_cast<int64_t>(spec_.size) * spec_.writesPerOp,
                           spec_.syncFileRangeFlags);
    }
    return Ok();
  }

  Status Operation() {
    int fd = -1;
    Status status;
    switch (spec_.sequence) {
      case BenchSequence::kPlain:
        status = Writes(fd_);
        return status.ok() ? RunFlush(fd_, spec_.flush) : status;

      case BenchSequence::kReopen:
        status = OpenForBench(spec_, path_, false, false, &fd);
        if (!status.ok()) return status;
        status = Writes(fd);
        if (status.ok()) status = RunFlush(fd, spec_.flush);
        return CloseAfter(fd, status);

      case BenchSequence::kWriteFlushClose:
        status = OpenForBench(spec_, path_, false, false, &fd);
        if (!status.ok()) return status;
        status = Writes(fd);
        if (status.ok()) status = RunFlush(fd, spec_.flush);
        status = CloseAfter(fd, status);
        if (!status.ok()) return status;
        // pg_test_fsync opens and closes once more so both variants make the same calls.
        status = OpenForBench(spec_, path_, false, false, &fd);
        return status.ok() ? Close(fd) : status;

      case BenchSequence::kWriteCloseFlush:
        status = OpenForBench(spec_, path_, false, false, &fd);
        if (!status.ok()) return status;
        status = CloseAfter(fd, Writes(fd));
        if (!status.ok()) return status;
        status = OpenForBench(spec_, path_, false, false, &fd);
        if (!status.ok()) return status;
        return CloseAfter(fd, RunFlush(fd, spec_.flush));

      case BenchSequence::kNewFile:
        path_ = newFile_.c_str();
        status = OpenForBench(spec_, path_, true, true, &fd);
        if (!status.ok()) return status;
        status = Writes(fd);
        if (status.ok()) status = RunFlush(fd, spec_.flush);
        status = CloseAfter(fd, status);
        if (!status.ok() || !spec_.fsyncDirectory) return status;
        path_ = spec_.directory.c_str();
        return FsyncDir(path_);

      case BenchSequence::kAtomicReplace:
        path_ = tempFile_.c_str();
        status = OpenForBench(spec_, path_, true, true, &fd);
        if (!status.ok()) return status;
        status = Writes(fd);
        if (status.ok()) status = RunFlush(fd, spec_.flush);
        status = CloseAfter(fd, status);
        if (!status.ok()) return status;
        status = Replace(path_, file_.c_str());
        if (!status.ok()) return status;
        path_ = spec_.directory.c_str();
        return FsyncDir(path_);

      case BenchSequence::kMapped:
        return mapped_.StoreAndSync(*state_.buffer, position_, spec_.writesPerOp);
    }
    return Fail(kUnsupported, "unknown benchmark sequence");  // unreachable: bench_spec.cc validates
  }

  // Untimed: a new-file run removes its file so the next operation creates it again.
  Status AfterOperation() {
    if (spec_.sequence != BenchSequence::kNewFile) return Ok();
    path_ = newFile_.c_str();
    return RemoveFile(path_);
  }

  ThreadState& state_;
  const BenchSpec& spec_;
  const std::string& file_;
  const std::string newFile_;
  const std::string tempFile_;
  const char* path_ = nullptr;
  int fd_ = -1;
  int64_t position_ = 0;
  MappedStores mapped_;
};

}  // namespace

Status RunBench(const BenchSpec& spec, BenchOutcome* out) {
  const size_t threads = spec.files.size();
  if (threads == 0 || threads > kBenchMaxThreads) return Fail(kUnsupported, "benchmark thread count");
  WriteBuffer buffer;
  if (!buffer.Allocate(spec.size, spec.alignment, 0x9e3779b97f4a7c15ull)) return Fail(UV_ENOMEM, "malloc");

  uint64_t perThread = spec.maxSamples / threads;
  if (perThread == 0) perThread = 1;
  std::unique_ptr<double[]> samples(new (std::nothrow) double[perThread * threads]);
  if (!samples) return Fail(UV_ENOMEM, "malloc");

  if (spec.sequence != BenchSequence::kNewFile && spec.sequence != BenchSequence::kAtomicReplace) {
    for (const std::string& file : spec.files) {
      Status status = Prepare(spec, file, buffer);
      if (!status.ok()) {
        out->failedPath = file;
        return status;
      }
    }
  }

  std::atomic<bool> stop{false};
  std::vector<ThreadState> states(threads);
  Clock::time_point start = Clock::now();
  auto length = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.seconds));
  for (size_t i = 0; i < threads; i++) {
    ThreadState& state = states[i];
    state.spec = &spec;
    state.file = &spec.files[i];
    state.buffer = &buffer;
    state.stop = &stop;
    state.deadline = start + length;
    state.samples = samples.get() + i * perThread;
    state.maxSamples = perThread;
    state.begin = start;
    state.end = start;
  }
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (size_t i = 1; i < threads; i++) {
    helpers.emplace_back([&states, i] {
      Loop loop(&states[i]);
      loop.Run();
    });
  }
  {
    Loop loop(&states[0]);
    loop.Run();
  }
  for (std::thread& helper : helpers) helper.join();

  Clock::time_point begin = Clock::time_point::max();
  Clock::time_point end = start;
  for (const ThreadState& state : states) {
    if (!state.status.ok()) {
      out->failedPath = state.failedPath;
      return state.status;
    }
    if (state.samplesTaken != 0 && state.begin < begin) begin = state.begin;
    if (state.end > end) end = state.end;
    out->ops += state.ops;
    out->samples += state.samplesTaken;
    if (state.busyNs > out->busyNs) out->busyNs = state.busyNs;
  }
  if (begin > end) begin = end;  // no operation ran (cannot happen with maxSamples >= 1)
  out->wallNs = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count());
  // Close the gaps between the threads' slices in place: no second copy of the samples.
  double* packed = samples.get();
  for (const ThreadState& state : states) {
    if (state.samplesTaken != 0 && state.samples != packed) std::memmove(packed, state.samples, state.samplesTaken * sizeof(double));
    packed += state.samplesTaken;
  }
  out->samplesNs = std::move(samples);
  return Ok();
}

}  // namespace hs

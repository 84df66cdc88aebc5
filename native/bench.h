// The benchmark's timed loop. Platform-neutral: it calls only the hs:: functions of
// platform.h and std::chrono::steady_clock, so the figures describe the OS and the device,
// not JavaScript. bench_spec.cc reads a JS spec into a BenchSpec, and binding.cc runs RunBench
// on the threadpool; nothing here knows about Node-API.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "platform.h"

namespace hs {

// What one timed operation does besides its writes. Values match bench/measure/native-loop.ts.
enum class BenchSequence : int {
  kPlain = 0,            // one fd for the whole run: writes, [sync_file_range], flush
  kReopen = 1,           // open, writes, [sync_file_range], flush, close (pg's non-synced write)
  kWriteFlushClose = 2,  // open, writes, flush, close, open, close (pg_test_fsync section 4a)
  kWriteCloseFlush = 3,  // open, writes, close, open, flush, close (pg_test_fsync section 4b)
  kNewFile = 4,          // create, writes, flush, close, [fsync dir]; the unlink is not timed
  kAtomicReplace = 5,    // create temp, writes, flush, close, rename over target, fsync dir
  kMapped = 6,           // one shared mapping of the region for the run: stores, msync of them
                         // (the mmap-msync method; not with kAppend: a mapping cannot grow a file)
};

enum class BenchPlacement : int {
  kOverwrite = 0,  // cycle through a region written and fsynced before timing starts
  kAppend = 1,     // the file grows; truncated to 0 (not timed) when it reaches regionBytes
  kPreallocated = 2,  // cycle through a region only preallocated (fallocate), never written:
                      // what etcd's WAL and fio's default layout give (unwritten extents)
};

// Hard limits, checked by bench_spec.cc before a spec reaches RunBench (and by bench/ before that).
constexpr uint32_t kBenchMaxSize = 64u << 20;
constexpr uint32_t kBenchMaxWritesPerOp = 4096;
constexpr uint32_t kBenchMaxThreads = 64;
constexpr uint64_t kBenchMaxSamples = 1u << 24;  // 128 MiB of doubles at most
constexpr int64_t kBenchMaxRegion = int64_t{1} << 40;
constexpr uint32_t kBenchMaxSampleEvery = 1u << 16;

struct BenchSpec {
  std::vector<std::string> files;  // one per thread; the thread's target file
  std::string directory;           // fsynced by fsyncDirectory and kAtomicReplace
  BenchSequence sequence = BenchSequence::kPlain;
  FlushKind flush = FlushKind::kNone;  // run by RunFlush, as writeDurable's flush is
  BenchPlacement placement = BenchPlacement::kOverwrite;
  bool dsync = false;
  bool sync = false;
  bool direct = false;
  bool fsyncDirectory = false;
  unsigned syncFileRangeFlags = 0;  // 0: no sync_file_range call
  uint32_t size = 8192;             // bytes per write
  uint32_t writesPerOp = 1;         // writes before each flush
  uint32_t alignment = 4096;        // buffer address alignment (direct I/O)
  int64_t regionBytes = 0;          // overwrite: region size; append: truncate limit
  int64_t prefillBytes = 0;         // overwrite: bytes written before timing, if > regionBytes
                                    // (pg_test_fsync writes 16 MB, then overwrites offset 0)
  double seconds = 1;               // stop after this long ...
  uint64_t maxSamples = 1u << 20;   // ... or after this many samples in all threads
  // 1: every operation is timed on its own (two clock reads), one latency sample each.
  // N > 1: only every Nth operation is timed, the N - 1 after it run back to back with no
  // clock read, and the deadline is checked after each timed one: pg_test_fsync's section 5
  // (a sub-microsecond page-cache write) reads the clock only around its loop, and two clock
  // reads per operation are a measurable share of such a write (bench/README.md, "Section 5,
  // the non-synced 8 kB write"). The samples are
  // then the latencies of every Nth operation (a systematic subsample, each still one real
  // operation), ops counts every operation, and busyNs becomes the loop's elapsed time.
  uint32_t sampleEvery = 1;
};

struct BenchOutcome {
  std::unique_ptr<double[]> samplesNs;  // latencies: thread 0's in order, then thread 1's, ...
  uint64_t samples = 0;  // how many: ops, or with sampleEvery N, one per N operations
  uint64_t ops = 0;      // operations completed, timed one by one or not
  // sampleEvery 1: the longest thread's summed operation time. sampleEvery N > 1: the longest
  // thread's loop time, from its first operation's start to its last one's end (its
  // operations run back to back; the untimed placement work between them is included).
  double busyNs = 0;
  // From the first operation's start (in any thread) to the last one's end: the loop's wall
  // time. Setup is excluded: the prefill, and in kPlain the open that precedes the loop.
  double wallNs = 0;
  std::string failedPath;  // the file a failed call was about
};

// Runs the loop on threads spec.files.size() threads (the caller's thread is one of them).
// Setup (prefill, preallocation) is not timed. On failure returns the first error; files
// created are left for the caller to remove (it owns the directory).
Status RunBench(const BenchSpec& spec, BenchOutcome* out);

}  // namespace hs

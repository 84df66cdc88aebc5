// Where an async call runs. Each JavaScript environment (the main thread, each worker_thread)
// gets one Engine when the addon loads into it, chosen once:
//   io_uring          flushes and writeDurable go to the kernel queue (native/platform), whose
//                     completions wake the event loop through a polled descriptor;
//   threads           they run on hardsync's own flush threads (one pool per process, size
//                     HARDSYNC_FLUSH_THREADS, default 4), completing through a uv_async;
//   libuv-threadpool  they run on libuv's threadpool (napi async work), as node:fs does.
// HARDSYNC_ENGINE=io_uring|threads|threadpool forces one; unset (or "auto") takes the first
// of io_uring, threads that works here. A forced io_uring that the kernel refuses falls back
// to threads, and engineInfo() says why.
// Everything that is not a flush (open, lock, rename, the benchmark loop...) stays on libuv's
// threadpool whatever the engine: those calls are short, or (lock waits) belong there.
// In every engine, a flush that cannot wait on a device (platform.h CompletesWithoutDevice: a
// file on tmpfs, say) runs on the JavaScript thread when it is called, and its Promise settles
// on the next turn of the event loop, as setImmediate callbacks run: two thread wake-ups cost
// far more than such a call, and a loop of awaited calls still lets timers and I/O run.
#pragma once

#include <napi.h>
#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "platform.h"

namespace hs {

// One async call. Run happens on a thread (thread engines); a kernel queue uses Request
// instead. Settle resolves or rejects the Promise from status, on the JavaScript thread.
class Job {
 public:
  virtual ~Job() = default;
  virtual Status Run() = 0;
  virtual AsyncRequest* Request() = 0;  // nullptr: no kernel-queue form
  virtual void Settle(napi_env env) = 0;
  Status status;
  napi_deferred deferred = nullptr;
};

struct Completions;  // shared with the flush threads (engine.cc)
class FlushPool;    // the process's flush threads (engine.cc)

class Engine {
 public:
  enum class Kind { kThreadpool, kThreads, kKernelQueue };

  // Reads HARDSYNC_ENGINE and HARDSYNC_FLUSH_THREADS; on a bad value returns nullptr with
  // *error set. Registers its own teardown with the environment.
  static Engine* Create(napi_env env, std::string* error);

  // Starts job (taking ownership); flush says whether it is a flush (engine-routed) or an
  // ordinary call (libuv's threadpool). On false nothing started and the job is still the
  // caller's.
  bool Start(Job* job, bool flush);

  // {name, requested, flushThreads, reason} for capabilities().
  Napi::Object Info(Napi::Env env) const;

  ~Engine();

 private:
  Engine() = default;
  bool StartOnThreadpool(Job* job);
  void StartOnThreads(Job* job);
  void RunHere(Job* job);
  void Deliver(Job** jobs, size_t count);
  void Began();
  void SettleAll(Job** jobs, size_t count);
  void FillFromBacklog();
  static void OnAsync(uv_async_t* handle);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnIdle(uv_idle_t* handle);
  static void Teardown(void* data);

  napi_env env_ = nullptr;
  Kind kind_ = Kind::kThreads;
  std::string requested_ = "auto";
  std::string reason_;
  size_t in_flight_ = 0;  // started and not yet settled, all routes but the threadpool
  FlushPool* pool_ = nullptr;  // null for the libuv-threadpool engine
  std::shared_ptr<Completions> completions_;
  KernelQueue* queue_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  std::deque<Job*> backlog_;  // kernel-queue jobs waiting for room
  uv_idle_t* idle_ = nullptr;     // active while ran_here_ is not empty
  std::vector<Job*> ran_here_;    // run by RunHere, to settle on the next loop turn
  napi_async_context async_context_ = nullptr;
  napi_ref resource_ = nullptr;
};

}  // namespace hs

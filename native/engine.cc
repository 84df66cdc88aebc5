// The engines of engine.h. OS-neutral: the kernel queue itself lives in native/platform.
#include "engine.h"

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

namespace hs {

// Finished thread-engine jobs of one environment, handed to its event loop. The flush threads
// hold a reference, so a job that finishes after its environment is gone finds closed set and
// deletes itself instead of touching the (closed) uv_async.
struct Completions {
  std::mutex mutex;
  std::vector<Job*> done;
  bool closed = false;
  uv_async_t* async = nullptr;
};

struct Task {
  Job* job;
  std::shared_ptr<Completions> completions;
};

// hardsync's flush threads: one pool for the process, started by the first environment that
// needs it (its HARDSYNC_FLUSH_THREADS decides the size) and never torn down. The threads are
// detached and the pool is never deleted, so process exit neither waits for a flush that is
// stuck on a slow disk nor destroys a mutex a thread still uses.
// A task goes to the thread that went idle last, not to whichever a shared condition variable
// wakes (the one idle longest): with one call at a time the same thread takes every call,
// still warm, instead of each of the threads in turn (measured in bench/README.md).
class FlushPool {
 public:
  static FlushPool* Start(size_t threads);
  size_t Size() const { return size_; }

  void Post(Task task) {
    Idle* idle = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (idle_.empty()) {
        tasks_.push_back(std::move(task));
      } else {
        idle = idle_.back();
        idle_.pop_back();
        idle->task = std::move(task);
        idle->handed = true;
      }
    }
    if (idle != nullptr) idle->wake.notify_one();
  }

 private:
  // A thread waiting for work, on its own condition variable.
  struct Idle {
    std::condition_variable wake;
    Task task;
    bool handed = false;
  };

  explicit FlushPool(size_t threads) : size_(threads) {
    for (size_t i = 0; i < threads; i++) std::thread([this] { Work(); }).detach();
  }

  void Work() {
    Idle self;
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!tasks_.empty()) {
          task = std::move(tasks_.front());
          tasks_.pop_front();
        } else {
          idle_.push_back(&self);
          self.wake.wait(lock, [&self] { return self.handed; });
          task = std::move(self.task);
          self.handed = false;
        }
      }
      task.job->status = task.job->Run();
      Completions& c = *task.completions;
      bool delivered = false;
      {
        std::lock_guard<std::mutex> lock(c.mutex);
        if (!c.closed) {
          c.done.push_back(task.job);
          uv_async_send(c.async);  // under the lock: Teardown closes the handle after setting closed
          delivered = true;
        }
      }
      if (!delivered) delete task.job;  // its environment is gone: nothing to settle
    }
  }

  size_t size_;
  std::mutex mutex_;
  std::deque<Task> tasks_;     // waiting for a thread: every thread is busy
  std::vector<Idle*> idle_;    // waiting for a task, the one idle last at the back
};

// Defined outside the class: the static of an inline function is one object per process (a
// GNU unique symbol), which every copy of this addon loaded in the process would share, an
// older version's FlushPool with another layout included.
FlushPool* FlushPool::Start(size_t threads) {
  static FlushPool* pool = new FlushPool(threads);
  return pool;
}

namespace {

constexpr size_t kDefaultFlushThreads = 4;
constexpr size_t kMaxFlushThreads = 64;

size_t FlushThreads(std::string* error) {
  const char* text = std::getenv("HARDSYNC_FLUSH_THREADS");
  if (text == nullptr || *text == '\0') return kDefaultFlushThreads;
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > static_cast<long>(kMaxFlushThreads)) {
    *error = std::string("HARDSYNC_FLUSH_THREADS must be an integer from 1 to 64 (got \"") + text + "\")";
    return 0;
  }
  return static_cast<size_t>(value);
}

const char* KindName(Engine::Kind kind) {
  switch (kind) {
    case Engine::Kind::kThreadpool: return "libuv-threadpool";
    case Engine::Kind::kThreads: return "threads";
    case Engine::Kind::kKernelQueue: return "io_uring";
  }
  return "threads";
}

// napi async work around a Job, for the libuv threadpool route.
struct UvWork {
  Job* job;
  napi_async_work work = nullptr;

  static void Execute(napi_env, void* data) {
    auto* w = static_cast<UvWork*>(data);
    w->job->status = w->job->Run();
  }
  static void Complete(napi_env env, napi_status work_status, void* data) {
    auto* w = static_cast<UvWork*>(data);
    if (work_status == napi_cancelled) w->job->status = Fail(UV_ECANCELED, w->job->status.syscall);
    {
      Napi::HandleScope scope(env);
      w->job->Settle(env);
    }
    napi_delete_async_work(env, w->work);
    delete w->job;
    delete w;
  }
};

void FreeHandle(uv_handle_t* handle) {
  if (handle->type == UV_ASYNC) delete reinterpret_cast<uv_async_t*>(handle);
  else if (handle->type == UV_IDLE) delete reinterpret_cast<uv_idle_t*>(handle);
  else delete reinterpret_cast<uv_poll_t*>(handle);
}

}  // namespace

Engine* Engine::Create(napi_env env, std::string* error) {
  const char* forced = std::getenv("HARDSYNC_ENGINE");
  std::string requested = forced == nullptr || *forced == '\0' ? "auto" : forced;
  if (requested != "auto" && requested != "io_uring" && requested != "threads" && requested != "threadpool") {
    *error = "HARDSYNC_ENGINE must be one of io_uring, threads, threadpool, auto (got \"" + requested + "\")";
    return nullptr;
  }
  size_t threads = FlushThreads(error);
  if (threads == 0) return nullptr;

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    *error = "no event loop";
    return nullptr;
  }
  auto* engine = new Engine();
  engine->env_ = env;
  engine->requested_ = requested;
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_latin1(env, "hardsync", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, resource, 1, &engine->resource_);
  napi_async_init(env, resource, name, &engine->async_context_);
  // Not started, so it keeps the loop alive only while RunHere's jobs wait to settle.
  engine->idle_ = new uv_idle_t;
  uv_idle_init(loop, engine->idle_);
  engine->idle_->data = engine;

  if (requested == "threadpool") {
    engine->kind_ = Kind::kThreadpool;
  } else {
    // Every other engine can need the flush threads (the kernel queue for what it cannot
    // run), so both get the completion handle.
    engine->completions_ = std::make_shared<Completions>();
    auto* async = new uv_async_t;
    uv_async_init(loop, async, OnAsync);
    async->data = engine;
    uv_unref(reinterpret_cast<uv_handle_t*>(async));
    engine->completions_->async = async;
    engine->pool_ = FlushPool::Start(threads);
    engine->kind_ = Kind::kThreads;
    if (requested == "io_uring" || requested == "auto") {
      std::string why_not;
      engine->queue_ = CreateKernelQueue(&why_not);
      if (engine->queue_ != nullptr) {
        engine->poll_ = new uv_poll_t;
        if (uv_poll_init(loop, engine->poll_, engine->queue_->NotifyFd()) == 0) {
          engine->poll_->data = engine;
          uv_poll_start(engine->poll_, UV_READABLE, OnPoll);
          uv_unref(reinterpret_cast<uv_handle_t*>(engine->poll_));
          engine->kind_ = Kind::kKernelQueue;
        } else {
          delete engine->poll_;
          engine->poll_ = nullptr;
          delete engine->queue_;
          engine->queue_ = nullptr;
          why_not = "uv_poll_init failed on the queue's descriptor";
        }
      }
      if (engine->queue_ == nullptr) engine->reason_ = why_not;
    }
  }
  napi_add_env_cleanup_hook(env, Teardown, engine);
  return engine;
}

Napi::Object Engine::Info(Napi::Env env) const {
  Napi::Object info = Napi::Object::New(env);
  info.Set("name", KindName(kind_));
  info.Set("requested", requested_);
  info.Set("flushThreads", Napi::Number::New(env, pool_ == nullptr ? 0 : static_cast<double>(pool_->Size())));
  info.Set("reason", reason_);
  return info;
}

bool Engine::Start(Job* job, bool flush) {
  if (flush) {
    AsyncRequest* request = job->Request();
    if (request != nullptr && CompletesWithoutDevice(*request)) {
      RunHere(job);
      return true;
    }
  }
  if (!flush || kind_ == Kind::kThreadpool) return StartOnThreadpool(job);
  if (queue_ != nullptr) {
    AsyncRequest* request = job->Request();
    if (request != nullptr && queue_->Supports(*request)) {
      if (!backlog_.empty() || queue_->Room() == 0) {
        backlog_.push_back(job);
        Began();
        return true;
      }
      if (queue_->Submit(request, job).ok()) {
        Began();
        return true;
      }
      // The ring refused (out of resources): this one runs on a flush thread instead.
    }
  }
  StartOnThreads(job);
  return true;
}

bool Engine::StartOnThreadpool(Job* job) {
  auto* w = new UvWork{job};
  napi_value name;
  napi_status ok = napi_create_string_latin1(env_, "hardsync", 8, &name);
  if (ok == napi_ok) ok = napi_create_async_work(env_, nullptr, name, UvWork::Execute, UvWork::Complete, w, &w->work);
  if (ok == napi_ok) ok = napi_queue_async_work(env_, w->work);
  if (ok != napi_ok) {
    if (w->work != nullptr) napi_delete_async_work(env_, w->work);
    delete w;
    return false;
  }
  return true;
}

void Engine::StartOnThreads(Job* job) {
  Began();
  pool_->Post(Task{job, completions_});
}

// Runs now, on this (the JavaScript) thread; settles on the next loop turn, from the idle
// handle, which also keeps that turn's poll from blocking.
void Engine::RunHere(Job* job) {
  job->status = job->Run();
  ran_here_.push_back(job);
  if (ran_here_.size() == 1) uv_idle_start(idle_, OnIdle);
}

void Engine::OnIdle(uv_idle_t* handle) {
  auto* engine = static_cast<Engine*>(handle->data);
  std::vector<Job*> done;
  done.swap(engine->ran_here_);
  uv_idle_stop(handle);  // started again by a call the settled Promises' callbacks make
  engine->Deliver(done.data(), done.size());
}

// The handles keep the event loop alive only while something is in flight, as pending
// node:fs requests do.
void Engine::Began() {
  if (in_flight_++ == 0) {
    uv_ref(reinterpret_cast<uv_handle_t*>(completions_->async));
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  }
}

void Engine::SettleAll(Job** jobs, size_t count) {
  if (count == 0) return;
  in_flight_ -= count;
  if (in_flight_ == 0) {
    uv_unref(reinterpret_cast<uv_handle_t*>(completions_->async));
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  Deliver(jobs, count);
}

void Engine::Deliver(Job** jobs, size_t count) {
  if (count == 0) return;
  // A callback scope, as libuv callbacks into JavaScript need: when it closes, the
  // microtasks of the settled Promises run.
  napi_handle_scope handles;
  napi_open_handle_scope(env_, &handles);
  napi_value resource;
  napi_get_reference_value(env_, resource_, &resource);
  napi_callback_scope scope;
  napi_open_callback_scope(env_, resource, async_context_, &scope);
  for (size_t i = 0; i < count; i++) {
    jobs[i]->Settle(env_);
    delete jobs[i];
  }
  napi_close_callback_scope(env_, scope);
  napi_close_handle_scope(env_, handles);
}

void Engine::OnAsync(uv_async_t* handle) {
  auto* engine = static_cast<Engine*>(handle->data);
  std::vector<Job*> done;
  {
    std::lock_guard<std::mutex> lock(engine->completions_->mutex);
    done.swap(engine->completions_->done);
  }
  engine->SettleAll(done.data(), done.size());
}

void Engine::FillFromBacklog() {
  while (!backlog_.empty() && queue_->Room() > 0) {
    Job* job = backlog_.front();
    backlog_.pop_front();
    if (!queue_->Submit(job->Request(), job).ok()) {
      in_flight_--;  // StartOnThreads counts it again
      StartOnThreads(job);
    }
  }
}

void Engine::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* engine = static_cast<Engine*>(handle->data);
  std::vector<Job*> done;
  engine->queue_->Drain(
      [](void* tag, Status result, void* context) {
        auto* job = static_cast<Job*>(tag);
        job->status = result;
        static_cast<std::vector<Job*>*>(context)->push_back(job);
      },
      &done);
  engine->FillFromBacklog();
  engine->SettleAll(done.data(), done.size());
}

// The environment is going away (worker exit, process exit): stop delivering, let go of the
// handles, and let what is still in flight finish where it runs without touching Node-API.
void Engine::Teardown(void* data) {
  auto* engine = static_cast<Engine*>(data);
  delete engine;
}

Engine::~Engine() {
  if (idle_ != nullptr) {
    for (Job* job : ran_here_) delete job;  // finished, never to be settled
    ran_here_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(idle_), FreeHandle);
  }
  if (completions_ != nullptr) {
    {
      std::lock_guard<std::mutex> lock(completions_->mutex);
      completions_->closed = true;
      for (Job* job : completions_->done) delete job;  // finished, never to be settled
      completions_->done.clear();
    }
    uv_close(reinterpret_cast<uv_handle_t*>(completions_->async), FreeHandle);
  }
  if (queue_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreeHandle);
    for (Job* job : backlog_) delete job;  // never started
    if (queue_->InFlight() == 0) {
      delete queue_;
    } else {
      // The kernel still reads buffers the jobs own: a reaper waits for every completion,
      // then frees the jobs and the ring. Detached, so exit never waits on a slow flush.
      KernelQueue* queue = queue_;
      std::thread([queue] {
        queue->WaitAll([](void* tag, Status, void*) { delete static_cast<Job*>(tag); }, nullptr);
        delete queue;
      }).detach();
    }
  }
  if (async_context_ != nullptr) napi_async_destroy(env_, async_context_);
  if (resource_ != nullptr) napi_delete_reference(env_, resource_);
}

}  // namespace hs

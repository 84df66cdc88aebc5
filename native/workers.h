// The one way an operation runs: now on the calling thread (the *Sync exports), or on the
// libuv threadpool settling a Promise (the async exports). Both call the same Op::Run.
//
// An Op is a movable struct with:
//   hs::Status Run();                          no Node-API here: it may run on a worker thread
//   Napi::Value Result(Napi::Env env) const;   the resolved value, on the main thread
//   const char* Path() const;  const char* Dest() const;   for the error, or nullptr
//   void Annotate(Napi::Error& error) const;   optional extra error properties
// Everything Run touches must be owned by the Op (copied strings and bytes), never borrowed
// from JavaScript, so nothing a script does during the call can free it.
#pragma once

#include <napi.h>

#include <uv.h>

#include <utility>

#include "errors.h"

namespace hs {

template <typename Op>
Napi::Value RunNow(Napi::Env env, Op& op) {
  Status status = op.Run();
  if (!status.ok()) {
    Napi::Error error = MakeError(env, status, op.Path(), op.Dest());
    op.Annotate(error);
    error.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return op.Result(env);
}

template <typename Op>
class PromiseJob {
 public:
  static Napi::Value Start(Napi::Env env, Op&& op) {
    auto* job = new PromiseJob(std::move(op));
    napi_value promise;
    napi_value resource_name;
    napi_status ok = napi_create_promise(env, &job->deferred_, &promise);
    if (ok == napi_ok) ok = napi_create_string_latin1(env, "hardsync", 8, &resource_name);
    if (ok == napi_ok) {
      ok = napi_create_async_work(env, nullptr, resource_name, Execute, Complete, job, &job->work_);
    }
    if (ok == napi_ok) ok = napi_queue_async_work(env, job->work_);
    if (ok != napi_ok) {
      // Only possible when the environment is shutting down or out of memory.
      if (job->work_ != nullptr) napi_delete_async_work(env, job->work_);
      delete job;
      Napi::Error::New(env, "hardsync: could not queue work on the threadpool")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Value(env, promise);
  }

 private:
  explicit PromiseJob(Op&& op) : op_(std::move(op)) {}

  static void Execute(napi_env, void* data) {
    auto* job = static_cast<PromiseJob*>(data);
    job->status_ = job->op_.Run();
  }

  static void Complete(napi_env raw_env, napi_status work_status, void* data) {
    auto* job = static_cast<PromiseJob*>(data);
    Napi::Env env(raw_env);
    Napi::HandleScope scope(env);
    if (work_status == napi_ok && job->status_.ok()) {
      napi_resolve_deferred(env, job->deferred_, job->op_.Result(env));
    } else {
      Status status = job->status_;
      if (work_status == napi_cancelled) status = Fail(UV_ECANCELED, status.syscall);
      Napi::Error error = MakeError(env, status, job->op_.Path(), job->op_.Dest());
      job->op_.Annotate(error);
      napi_reject_deferred(env, job->deferred_, error.Value());
    }
    napi_delete_async_work(env, job->work_);
    delete job;
  }

  Op op_;
  Status status_;
  napi_deferred deferred_ = nullptr;
  napi_async_work work_ = nullptr;
};

// One export body for both forms: Op::Parse reads the arguments (throwing a TypeError and
// returning false on anything it cannot use), then the op runs now or on the threadpool.
template <typename Op, bool kAsync>
Napi::Value Dispatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Op op;
  if (!op.Parse(info, kAsync)) return env.Undefined();
  if constexpr (kAsync) {
    return PromiseJob<Op>::Start(env, std::move(op));
  } else {
    return RunNow(env, op);
  }
}

}  // namespace hs

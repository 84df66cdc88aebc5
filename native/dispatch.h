// The one way an operation runs: now on the calling thread (the *Sync exports), or through
// the environment's Engine settling a Promise (the async exports; see engine.h). Both call
// the same Op::Run, unless the engine runs the op's AsyncRequest on the kernel queue.
//
// An Op is a movable struct with:
//   hs::Status Run();                          no Node-API here: it may run on a worker thread
//   Napi::Value Result(Napi::Env env) const;   the resolved value, on the main thread
//   const char* Path() const;  const char* Dest() const;   for the error, or nullptr
//   void Annotate(Napi::Error& error) const;   optional extra error properties
//   static constexpr bool kOwnFailure;         whether it makes its own error for a failed Run:
//   Napi::Error Failure(Napi::Env, const Status&) const;   (else MakeError, then Annotate)
//   static constexpr bool kFlush;              a flush (routed by the engine) or not
//   AsyncRequest* Request();                   the kernel-queue form, or nullptr
// Everything Run touches must be owned by the Op (copied strings and bytes), never borrowed
// from JavaScript, so nothing a script does during the call can free it.
#pragma once

#include <napi.h>

#include <utility>

#include "engine.h"
#include "errors.h"

namespace hs {

// The error for op's failed Run.
template <typename Op>
Napi::Error OpFailure(Napi::Env env, const Op& op, const Status& status) {
  if constexpr (Op::kOwnFailure) {
    return op.Failure(env, status);
  } else {
    Napi::Error error = MakeError(env, status, op.Path(), op.Dest());
    op.Annotate(error);
    return error;
  }
}

// Result may throw (a value it cannot make: the sync form throws that, the async one rejects).
template <typename Op>
Napi::Value RunNow(Napi::Env env, Op& op) {
  Status status = op.Run();
  if (!status.ok()) {
    OpFailure(env, op, status).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return op.Result(env);
}

// An Op as an engine Job: settles its Promise with Op::Result or a node-style error.
template <typename Op>
class OpJob final : public Job {
 public:
  explicit OpJob(Op&& op) : op_(std::move(op)) {}
  Status Run() override { return op_.Run(); }
  AsyncRequest* Request() override { return op_.Request(); }
  void Settle(napi_env raw_env) override {
    Napi::Env env(raw_env);
    if (status.ok()) {
      Napi::Value result = op_.Result(env);
      napi_value thrown;
      if (env.IsExceptionPending() && napi_get_and_clear_last_exception(env, &thrown) == napi_ok) {
        napi_reject_deferred(env, deferred, thrown);
      } else {
        napi_resolve_deferred(env, deferred, result);
      }
    } else {
      napi_reject_deferred(env, deferred, OpFailure(env, op_, status).Value());
    }
  }

 private:
  Op op_;
};

template <typename Op>
Napi::Value StartJob(Napi::Env env, Engine* engine, Op&& op) {
  auto* job = new OpJob<Op>(std::move(op));
  napi_value promise;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok || !engine->Start(job, Op::kFlush)) {
    // Only possible when the environment is shutting down or out of memory.
    bool has_promise = job->deferred != nullptr;
    if (has_promise) {
      napi_reject_deferred(env, job->deferred, Napi::Error::New(env, "hardsync: could not start the call").Value());
    }
    delete job;
    if (!has_promise) return env.Undefined();
  }
  return Napi::Value(env, promise);
}

// One export body for both forms: Op::Parse reads the arguments (throwing a TypeError and
// returning false on anything it cannot use), then the op runs now or on the threadpool.
template <typename Op, bool kAsync>
Napi::Value Dispatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Op op;
  if (!op.Parse(info, kAsync)) return env.Undefined();
  if constexpr (kAsync) {
    return StartJob(env, static_cast<Engine*>(info.Data()), std::move(op));
  } else {
    return RunNow(env, op);
  }
}

}  // namespace hs

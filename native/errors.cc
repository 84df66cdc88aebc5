#include "errors.h"

#include <uv.h>

#include <string>

namespace hs {

Napi::Error MakeError(Napi::Env env, const Status& status, const char* path, const char* dest) {
  const char* syscall = status.syscall != nullptr ? status.syscall : "unknown";
  if (status.err == kUnsupported) {
    std::string message = std::string(syscall) + " is not supported on " + PlatformName();
    if (path != nullptr) message += std::string(", '") + path + "'";
    Napi::Error error = Napi::Error::New(env, message);
    error.Set("code", "ERR_HARDSYNC_UNSUPPORTED");
    error.Set("syscall", syscall);
    if (path != nullptr) error.Set("path", path);
    return error;
  }
  // Same text and property order as node's UVException (src/api/exceptions.cc).
  const char* code = uv_err_name(status.err);
  std::string message = std::string(code) + ": " + uv_strerror(status.err) + ", " + syscall;
  if (path != nullptr) message += std::string(" '") + path + "'";
  if (dest != nullptr) message += std::string(" -> '") + dest + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, status.err));
  error.Set("code", code);
  error.Set("syscall", syscall);
  if (path != nullptr) error.Set("path", path);
  if (dest != nullptr) error.Set("dest", dest);
  return error;
}

}  // namespace hs

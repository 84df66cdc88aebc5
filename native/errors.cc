#include "errors.h"

#include <errno.h>
#include <uv.h>

#include <cstring>
#include <string>

namespace hs {
namespace {

struct ErrnoName {
  int err;
  const char* code;
  const char* message;
};

// Errors a durability call can meet that libuv has no name for: uv_err_name would call them
// "Unknown system error -122", which no caller can test for (and, for an unknown code, both
// uv_err_name and uv_strerror leak the string they build). On POSIX a uv error is -errno, so
// these rows are exact there; on Windows libuv errors are their own negative codes, hence the
// table is left empty.
constexpr ErrnoName kExtraNames[] = {
#if !defined(_WIN32)
#if defined(EDQUOT)
    {-EDQUOT, "EDQUOT", "disk quota exceeded"},
#endif
#if defined(ESTALE)
    {-ESTALE, "ESTALE", "stale file handle"},
#endif
#if defined(EUCLEAN)
    {-EUCLEAN, "EUCLEAN", "structure needs cleaning"},  // ext4/XFS: filesystem corrupted
#endif
#if defined(EBADMSG)
    {-EBADMSG, "EBADMSG", "bad message"},  // XFS: metadata checksum failure
#endif
#if defined(ENOLCK)
    {-ENOLCK, "ENOLCK", "no locks available"},  // flock on some network filesystems
#endif
#endif
    {0, nullptr, nullptr},
};

// The code and message node would give, or a name from kExtraNames where libuv has none.
void Describe(int err, std::string* code, std::string* message) {
  for (const ErrnoName& row : kExtraNames) {
    if (row.code != nullptr && row.err == err) {
      *code = row.code;
      *message = row.message;
      return;
    }
  }
  // The _r forms write into our buffer; the plain forms strdup (and leak) unknown codes.
  char buffer[128];
  *code = uv_err_name_r(err, buffer, sizeof buffer);
  *message = uv_strerror_r(err, buffer, sizeof buffer);
}

}  // namespace

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
  if (status.err == kPastEndOfFile) {  // mapFile makes its own, more precise one (binding.cc)
    Napi::RangeError error = Napi::RangeError::New(
        env, std::string("The range of ") + syscall + " is out of range: it reaches past the end of the file" +
                 (path != nullptr ? std::string(" '") + path + "'" : std::string()));
    error.Set("code", "ERR_OUT_OF_RANGE");
    if (path != nullptr) error.Set("path", path);
    return error;
  }
  // Same text and property order as node's UVException (src/api/exceptions.cc).
  std::string code;
  std::string description;
  Describe(status.err, &code, &description);
  std::string message = code + ": " + description + ", " + syscall;
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

bool ThrowInvalidArgType(Napi::Env env, const char* name, const char* expected) {
  Napi::TypeError error = Napi::TypeError::New(
      env, std::string("The \"") + name + "\" argument must be " + expected);
  error.Set("code", "ERR_INVALID_ARG_TYPE");
  error.ThrowAsJavaScriptException();
  return false;
}

bool ThrowOutOfRange(Napi::Env env, const std::string& name, const char* what) {
  Napi::RangeError error = Napi::RangeError::New(
      env, std::string("The value of \"") + name + "\" is out of range for " + what);
  error.Set("code", "ERR_OUT_OF_RANGE");
  error.ThrowAsJavaScriptException();
  return false;
}

}  // namespace hs

// The one place native/ builds JavaScript errors: a failed Status as an Error shaped like
// node:fs's, and the argument errors of the checks binding.cc and bench_spec.cc make (a second
// line behind lib/'s validation, which builds the messages callers normally see).
#pragma once

#include <napi.h>

#include <string>

#include "platform.h"

namespace hs {

// A Node-style system error: message "EIO: i/o error, fdatasync" (with " 'path'" and
// " -> 'dest'" where given), and the properties errno (negative), code, syscall, path, dest.
// For kUnsupported: code ERR_HARDSYNC_UNSUPPORTED and a message naming the call and the OS;
// for kPastEndOfFile: a RangeError ERR_OUT_OF_RANGE.
Napi::Error MakeError(Napi::Env env, const Status& status, const char* path = nullptr,
                      const char* dest = nullptr);

// Throws a TypeError with code ERR_INVALID_ARG_TYPE: `The "name" argument must be expected`.
// Returns false, so a check can `return ThrowInvalidArgType(...)`.
bool ThrowInvalidArgType(Napi::Env env, const char* name, const char* expected);

// Throws a RangeError with code ERR_OUT_OF_RANGE: `The value of "name" is out of range for
// what`. Returns false.
bool ThrowOutOfRange(Napi::Env env, const std::string& name, const char* what);

}  // namespace hs

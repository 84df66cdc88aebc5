// The one place that turns a failed Status into a JavaScript Error shaped like node:fs's.
#pragma once

#include <napi.h>

#include "platform.h"

namespace hs {

// A Node-style system error: message "EIO: i/o error, fdatasync" (with " 'path'" and
// " -> 'dest'" where given), and the properties errno (negative), code, syscall, path, dest.
// For kUnsupported: code ERR_HARDSYNC_UNSUPPORTED and a message naming the call and the OS.
Napi::Error MakeError(Napi::Env env, const Status& status, const char* path = nullptr,
                      const char* dest = nullptr);

}  // namespace hs

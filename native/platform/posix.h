// Hooks that posix.cc's shared code asks of each POSIX OS file.
#pragma once

#include "../platform.h"

namespace hs {

// Extra open(2) flags for a request (Linux and FreeBSD: O_DIRECT; macOS: none).
int OsOpenFlags(const OpenRequest& request);

// Work after a successful open(2) (macOS: F_NOCACHE for `direct`). On failure the shared
// code closes the fd and returns this status.
Status OsAfterOpen(int fd, const OpenRequest& request);

}  // namespace hs

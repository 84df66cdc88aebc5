// macOS, FreeBSD, Windows: no kernel completion queue for flushes (kqueue and IOCP cannot run
// an fsync), so async flushes run on hardsync's own flush threads.
#include "../platform.h"

namespace hs {

KernelQueue* CreateKernelQueue(std::string* why_not) {
  *why_not = "io_uring exists only on Linux";
  return nullptr;
}

// Nothing here tells a memory filesystem apart cheaply enough to be worth it: every async
// flush takes the engine's usual route.
bool CompletesWithoutDevice(AsyncRequest&) { return false; }

}  // namespace hs

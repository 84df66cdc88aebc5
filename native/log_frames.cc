// The log's frames, see log_frames.h.
#include "log_frames.h"

#include "crc32c.h"

namespace hs {
namespace {

// The format is little-endian whatever the CPU: bytes are assembled one at a time.
uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

void StoreLe32(uint8_t* p, uint32_t value) {
  p[0] = static_cast<uint8_t>(value);
  p[1] = static_cast<uint8_t>(value >> 8);
  p[2] = static_cast<uint8_t>(value >> 16);
  p[3] = static_cast<uint8_t>(value >> 24);
}

constexpr size_t kBatchEndAt = 16;
constexpr size_t kCrcAt = 20;

}  // namespace

int64_t CompleteFrames(uint8_t* arena, size_t bytes, uint32_t batch_end) {
  // The whole range is checked before the first byte is written: a range that is not whole
  // frames is a bug of the caller, and its bytes are left as they were for it to look at.
  int64_t frames = 0;
  size_t at = 0;
  while (at < bytes) {
    size_t left = bytes - at;
    if (left < kRecordHeaderSize || LoadLe32(arena + at) != kRecordMagic) return -1;
    uint32_t length = LoadLe32(arena + at + 4);
    if (length > left - kRecordHeaderSize) return -1;
    at += kRecordHeaderSize + length;
    frames++;
  }
  // The lengths are read again, and checked again: the bytes may be shared with another
  // thread (a view of a SharedArrayBuffer) that changes them meanwhile, and that must garble
  // only the frames, never make this write outside the range.
  for (at = 0; bytes - at >= kRecordHeaderSize;) {
    uint8_t* frame = arena + at;
    uint32_t length = LoadLe32(frame + 4);
    if (length > bytes - at - kRecordHeaderSize) break;
    StoreLe32(frame + kBatchEndAt, batch_end);
    uint32_t crc = Crc32c(Crc32c(0, frame + kRecordHeaderSize, length), frame, kCrcAt);
    StoreLe32(frame + kCrcAt, crc);
    at += kRecordHeaderSize + length;
  }
  return frames;
}

}  // namespace hs

// A DurableLog's arenas: native memory for the frames of its batches, which JavaScript fills
// through a Buffer and the batch write (writeArena in binding.cc) reads in place, without the
// copy writeDurable makes. The write holds the arena (held.h) until it has returned, so that
// nothing JavaScript does meanwhile (dropping the Buffer, transferring its ArrayBuffer, the
// environment going away with the write in flight) can free memory the kernel or a flush
// thread still reads. What JavaScript writes into it meanwhile is the caller's business: the
// log never touches an arena whose write has not settled. No Node-API here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "held.h"

namespace hs {

class ArenaBlock {
 public:
  // Aligned for the widest loads a checksum or copy may use; the contents start undefined.
  static constexpr size_t kAlign = 64;

  static std::shared_ptr<ArenaBlock> Make(size_t length) {
    auto* data = static_cast<uint8_t*>(::operator new(length == 0 ? 1 : length, std::align_val_t(kAlign), std::nothrow));
    if (data == nullptr) return nullptr;
    std::shared_ptr<ArenaBlock> block(new (std::nothrow) ArenaBlock(data, length));
    if (!block) ::operator delete(data, std::align_val_t(kAlign));
    return block;
  }

  ArenaBlock(const ArenaBlock&) = delete;
  ArenaBlock& operator=(const ArenaBlock&) = delete;
  ~ArenaBlock() { ::operator delete(data_, std::align_val_t(kAlign)); }

  uint8_t* Data() const { return data_; }
  size_t Length() const { return length_; }

 private:
  ArenaBlock(uint8_t* data, size_t length) : data_(data), length_(length) {}
  uint8_t* data_;
  size_t length_;
};

class ArenaRegistry : public HeldRegistry<ArenaBlock> {
 public:
  // The process's registry, never destroyed; defined in binding.cc (see MappedRegistry::Get).
  static ArenaRegistry& Get();
};

}  // namespace hs

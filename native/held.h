// A registry of native memory that JavaScript sees as the bytes of an ArrayBuffer (a mapped
// file, a log's arena), shared by the ArrayBuffer and the calls in flight on it: the memory
// goes when the last holder lets go, on whichever thread that is. No Node-API here.
//
// Holders: the registry, while JavaScript can reach the memory (until its ArrayBuffer's
// finalizer runs, or, for a mapping, until unmapFile detaches it); and each call in flight
// that reads or writes it, holding a shared_ptr it got from Find. Entries are keyed by the
// address of the first byte, which is the data of the ArrayBuffer behind every view of the
// memory (subarray, DataView, Buffer.from(ab)): any view leads to it. A registry is one per
// process, since such an ArrayBuffer can be transferred to another thread.
//
// Block: a class owning the memory, with `const void* Data() const` and `size_t Length() const`.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace hs {

template <typename Block>
class HeldRegistry {
 public:
  // Registers new memory; returns the id that Remove needs (an address can be allocated
  // again once freed, so the address alone does not name one block for ever).
  uintptr_t Add(std::shared_ptr<Block> block) {
    std::lock_guard<std::mutex> lock(mutex_);
    uintptr_t id = next_id_++;
    uintptr_t key = Key(block->Data());
    entries_[key] = Entry{id, std::move(block)};
    return id;
  }

  // The block whose bytes are exactly [data, data + length), or null; *id receives its id.
  std::shared_ptr<Block> Find(const void* data, size_t length, uintptr_t* id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(Key(data));
    if (found == entries_.end() || found->second.block->Length() != length) return nullptr;
    *id = found->second.id;
    return found->second.block;
  }

  // Lets go of block `id` at data, if it is still registered. Returns the registry's
  // reference, for the caller to drop outside the lock (the drop may free or unmap).
  std::shared_ptr<Block> Remove(const void* data, uintptr_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(Key(data));
    if (found == entries_.end() || found->second.id != id) return nullptr;
    std::shared_ptr<Block> block = std::move(found->second.block);
    entries_.erase(found);
    return block;
  }

 private:
  struct Entry {
    uintptr_t id;
    std::shared_ptr<Block> block;
  };
  static uintptr_t Key(const void* data) { return reinterpret_cast<uintptr_t>(data); }

  std::mutex mutex_;
  std::unordered_map<uintptr_t, Entry> entries_;
  uintptr_t next_id_ = 1;
};

}  // namespace hs

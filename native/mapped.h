// Who holds a mapped file (mapFile) and when it is unmapped. No Node-API here: binding.cc
// makes the Buffers and the ops; this file owns the mappings.
//
// A mapping is released when its last holder lets go:
//   - the registry, while JavaScript can reach the mapping: from mapFile until unmapFile
//     detaches its ArrayBuffer, or until the ArrayBuffer is garbage-collected (its finalizer);
//   - each msync in flight on it, so that an unmapFile (or a collection) during an msync
//     leaves the memory mapped until the msync has returned.
// The registry is keyed by the address of the mapping's first byte, which is the data of the
// ArrayBuffer behind every view of the mapping (subarray, DataView, Buffer.from(ab)): any
// view leads to it. It is one per process, since such an ArrayBuffer can be transferred to
// another thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "platform.h"

namespace hs {

// One mapFile's mapping, unmapped when destroyed (on whichever thread drops it last).
class MappedRegion {
 public:
  explicit MappedRegion(const Mapping& mapping) : mapping_(mapping) {}
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion() { Unmap(&mapping_); }
  const Mapping& mapping() const { return mapping_; }

 private:
  Mapping mapping_;
};

class MappedRegistry {
 public:
  // The process's registry: never destroyed, so that a finalizer or a flush thread running
  // at exit never meets a destroyed mutex. Defined in binding.cc, not here: the static of an
  // inline function is a GNU unique symbol, one object for every copy of the addon loaded in
  // the process (another version's, with another layout, included).
  static MappedRegistry& Get();

  // Registers a new mapping; returns the id that Remove needs (an address can be mapped
  // again once unmapped, so the address alone does not name one mapping for ever).
  uintptr_t Add(std::shared_ptr<MappedRegion> region) {
    std::lock_guard<std::mutex> lock(mutex_);
    uintptr_t id = next_id_++;
    uintptr_t key = Key(region->mapping().data);
    entries_[key] = Entry{id, std::move(region)};
    return id;
  }

  // The mapping whose bytes are exactly [data, data + length), or null; *id receives its id.
  std::shared_ptr<MappedRegion> Find(const void* data, size_t length, uintptr_t* id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(Key(data));
    if (found == entries_.end() || found->second.region->mapping().length != length) return nullptr;
    *id = found->second.id;
    return found->second.region;
  }

  // Lets go of mapping `id` at data, if it is still registered. Returns the registry's
  // reference, for the caller to drop outside the lock (the drop may unmap).
  std::shared_ptr<MappedRegion> Remove(const void* data, uintptr_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(Key(data));
    if (found == entries_.end() || found->second.id != id) return nullptr;
    std::shared_ptr<MappedRegion> region = std::move(found->second.region);
    entries_.erase(found);
    return region;
  }

 private:
  struct Entry {
    uintptr_t id;
    std::shared_ptr<MappedRegion> region;
  };
  static uintptr_t Key(const void* data) { return reinterpret_cast<uintptr_t>(data); }

  std::mutex mutex_;
  std::unordered_map<uintptr_t, Entry> entries_;
  uintptr_t next_id_ = 1;
};

}  // namespace hs

// Who holds a mapped file (mapFile) and when it is unmapped. No Node-API here: binding.cc
// makes the Buffers and the ops; this file owns the mappings.
//
// A mapping is released when its last holder lets go (held.h):
//   - the registry, while JavaScript can reach the mapping: from mapFile until unmapFile
//     detaches its ArrayBuffer, or until the ArrayBuffer is garbage-collected (its finalizer);
//   - each msync in flight on it, so that an unmapFile (or a collection) during an msync
//     leaves the memory mapped until the msync has returned.
#pragma once

#include "held.h"
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
  const void* Data() const { return mapping_.data; }
  size_t Length() const { return mapping_.length; }

 private:
  Mapping mapping_;
};

class MappedRegistry : public HeldRegistry<MappedRegion> {
 public:
  // The process's registry: never destroyed, so that a finalizer or a flush thread running
  // at exit never meets a destroyed mutex. Defined in binding.cc, not here: the static of an
  // inline function is a GNU unique symbol, one object for every copy of the addon loaded in
  // the process (another version's, with another layout, included).
  static MappedRegistry& Get();
};

}  // namespace hs

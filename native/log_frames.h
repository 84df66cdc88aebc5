// The frames of a DurableLog batch (the format is lib/patterns/frame.ts's), completed in one
// pass once the batch is known: the log writes each frame's magic, length, LSN and payload at
// append time, and this fills in the batch end and the CRC-32C of every frame of the batch, so
// that a batch costs one call into the addon instead of two per record. No Node-API here:
// binding.cc exports it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hs {

constexpr uint32_t kRecordMagic = 0x4c575348;  // "HSWL" read as a little-endian u32
constexpr size_t kRecordHeaderSize = 24;

// If [arena, arena + bytes) is whole frames back to back (each starting with the record magic,
// the last one ending exactly at bytes), writes into every frame the batch end at +16 and then
// the CRC-32C of its payload followed by header bytes [0, 20) at +20, both little-endian, and
// returns how many frames there were. Otherwise returns -1 and changes nothing.
int64_t CompleteFrames(uint8_t* arena, size_t bytes, uint32_t batch_end);

}  // namespace hs

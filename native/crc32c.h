// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): DurableLog's frame checksum. With
// the CPU's instruction where it has one (x86-64 SSE4.2 crc32, ARMv8 CRC32 extension), found
// at run time, and a table-driven form everywhere else. No Node-API here: binding.cc exports it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hs {

// Continues a CRC-32C over [data, data + length): crc is the CRC of what came before (0 for
// nothing), the result the CRC of everything so far (the usual pre- and post-inversion are
// inside, so Crc32c(Crc32c(0, a), b) == Crc32c(0, a || b)).
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t length);

// The same with the table-driven code, whatever the CPU has: the reference the hardware form
// is tested against.
uint32_t Crc32cPortable(uint32_t crc, const uint8_t* data, size_t length);

// "sse4.2", "armv8-crc" or "table": what Crc32c runs on this CPU.
const char* Crc32cImplementation();

}  // namespace hs

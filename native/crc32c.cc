// CRC-32C, see crc32c.h. Two forms:
// - the CPU's instruction (x86-64: SSE4.2 crc32; ARMv8: the CRC32 extension's crc32c*), eight
//   bytes per instruction. The instruction's latency is three cycles and one can start every
//   cycle, so inputs of 12 KiB and more are checksummed as three independent lanes of 4 KiB
//   whose CRCs are then combined (shifting a CRC past 4 KiB of zeros is a multiplication by
//   x^32768 modulo the polynomial). Only the functions that use the instruction are compiled
//   for it (a target attribute), so the addon as a whole still runs on a CPU without it; which
//   form runs is decided once, from the CPU's own report (cpuid; the OS's hwcaps on ARM).
// - a table-driven form everywhere else (slicing-by-8: eight 256-entry tables, eight bytes
//   per step), also the reference the other is tested against.
#include "crc32c.h"

#include <cstring>

#include "platform.h"

#if defined(__x86_64__) || defined(_M_X64)
#define HS_CRC_X86 1
#include <nmmintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define HS_CRC_TARGET
#else
#include <cpuid.h>
#if defined(__clang__)
// Clang 16 and later keep the CRC32 instruction under a feature of its own ("crc32"), no longer
// implied by "sse4.2" inside a target attribute; clang 14 knows the name too.
#define HS_CRC_TARGET __attribute__((target("sse4.2,crc32")))
#else
#define HS_CRC_TARGET __attribute__((target("sse4.2")))
#endif
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#define HS_CRC_ARM 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define HS_CRC_TARGET
#else
#include <arm_acle.h>
#if defined(__clang__)
#define HS_CRC_TARGET __attribute__((target("crc")))
#else
#define HS_CRC_TARGET __attribute__((target("+crc")))
#endif
#endif
#endif

namespace hs {
namespace {

constexpr uint32_t kPoly = 0x82f63b78;  // reflected: x^0 is the top bit

struct Tables {
  uint32_t t[8][256];
};

// t[k][b]: the CRC register after byte b followed by k zero bytes.
constexpr Tables MakeTables() {
  Tables tables{};
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    tables.t[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = tables.t[0][n];
    for (int k = 1; k < 8; k++) {
      c = tables.t[0][c & 0xff] ^ (c >> 8);
      tables.t[k][n] = c;
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

inline uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

#if defined(HS_CRC_X86) || defined(HS_CRC_ARM)

// Bytes per lane in one round of the three-lane loop.
constexpr size_t kLane = 4096;

// a * b modulo the polynomial, both reflected. a must not be zero.
uint32_t MultiplyModPoly(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31;; bit >>= 1) {
    if (a & bit) {
      product ^= b;
      if ((a & (bit - 1)) == 0) break;
    }
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return product;
}

// x^(8 * kLane) modulo the polynomial: what feeding kLane zero bytes multiplies a CRC by.
uint32_t LaneShift() {
  static const uint32_t shift = [] {
    uint32_t x = 1u << 31;  // x^0
    for (size_t i = 0; i < 8 * kLane; i++) x = (x & 1) ? (x >> 1) ^ kPoly : x >> 1;
    return x;
  }();
  return shift;
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof value);  // little-endian on every CPU this form is built for
  return value;
}

#if defined(HS_CRC_X86)
HS_CRC_TARGET inline uint64_t Step8(uint64_t crc, uint64_t value) { return _mm_crc32_u64(crc, value); }
HS_CRC_TARGET inline uint64_t Step1(uint64_t crc, uint8_t value) { return _mm_crc32_u8(static_cast<uint32_t>(crc), value); }

bool CpuHasInstruction() {
#if defined(_MSC_VER) && !defined(__clang__)
  int info[4];
  __cpuid(info, 1);
  return (info[2] & (1 << 20)) != 0;
#else
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_SSE4_2) != 0;
#endif
}
constexpr const char* kInstructionName = "sse4.2";
#else
HS_CRC_TARGET inline uint64_t Step8(uint64_t crc, uint64_t value) { return __crc32cd(static_cast<uint32_t>(crc), value); }
HS_CRC_TARGET inline uint64_t Step1(uint64_t crc, uint8_t value) { return __crc32cb(static_cast<uint32_t>(crc), value); }

bool CpuHasInstruction() { return CpuHasArmCrc32(); }
constexpr const char* kInstructionName = "armv8-crc";
#endif

HS_CRC_TARGET uint32_t InstructionCrc(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = ~crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = Step1(c, *p++);
    n--;
  }
  if (n >= 3 * kLane) {
    const uint32_t shift = LaneShift();
    do {
      uint64_t c1 = 0;
      uint64_t c2 = 0;
      for (size_t i = 0; i < kLane; i += 8) {
        c = Step8(c, Load64(p + i));
        c1 = Step8(c1, Load64(p + kLane + i));
        c2 = Step8(c2, Load64(p + 2 * kLane + i));
      }
      // CRC(A || B) = CRC(A) shifted past |B| zero bytes, xor CRC(B) from a zero register.
      c = MultiplyModPoly(shift, static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1);
      c = MultiplyModPoly(shift, static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c2);
      p += 3 * kLane;
      n -= 3 * kLane;
    } while (n >= 3 * kLane);
  }
  for (; n >= 8; p += 8, n -= 8) c = Step8(c, Load64(p));
  for (; n > 0; n--) c = Step1(c, *p++);
  return ~static_cast<uint32_t>(c);
}

#endif

using CrcFunction = uint32_t (*)(uint32_t, const uint8_t*, size_t);

struct Implementation {
  CrcFunction run;
  const char* name;
};

const Implementation& Chosen() {
#if defined(HS_CRC_X86) || defined(HS_CRC_ARM)
  static const Implementation chosen = CpuHasInstruction() ? Implementation{InstructionCrc, kInstructionName}
                                                           : Implementation{Crc32cPortable, "table"};
#else
  static const Implementation chosen{Crc32cPortable, "table"};
#endif
  return chosen;
}

}  // namespace

uint32_t Crc32cPortable(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& t = kTables.t;
  uint32_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t lo = c ^ Le32(p);
    uint32_t hi = Le32(p + 4);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
        t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; n--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t length) { return Chosen().run(crc, data, length); }

const char* Crc32cImplementation() { return Chosen().name; }

}  // namespace hs

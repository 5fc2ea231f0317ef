#include "runtime/cpu.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define EMBER_X86 1
#endif

namespace ember::runtime {
namespace {

#ifdef EMBER_X86
struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) return {};
  return r;
}

// XGETBV(0) with inline assembly so this file needs no -mxsave flag.
uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(uint32_t value, int index) { return (value >> index) & 1u; }
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef EMBER_X86
  const uint32_t max_leaf = cpuid(0, 0).eax;
  const CpuidRegs l1 = cpuid(1, 0);
  const bool osxsave = bit(l1.ecx, 27);
  const bool avx = bit(l1.ecx, 28);
  if (osxsave && avx) {
    const uint64_t xcr0 = read_xcr0();
    f.os_avx = (xcr0 & 0x6) == 0x6;              // SSE and AVX (YMM upper halves) state
    f.os_avx512 = f.os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM state
  }
  f.fma = bit(l1.ecx, 12);
  f.f16c = bit(l1.ecx, 29);
  if (max_leaf >= 7) {
    const CpuidRegs l7 = cpuid(7, 0);
    f.avx2 = bit(l7.ebx, 5);
    f.bmi2 = bit(l7.ebx, 8);
    f.avx512f = bit(l7.ebx, 16);
    f.avx512dq = bit(l7.ebx, 17);
    f.avx512bw = bit(l7.ebx, 30);
    f.avx512vl = bit(l7.ebx, 31);
    f.avx512vnni = bit(l7.ecx, 11);
    if (l7.eax >= 1) {
      const CpuidRegs l71 = cpuid(7, 1);
      f.avx_vnni = bit(l71.eax, 4);
      f.avx512bf16 = bit(l71.eax, 5);
    }
  }
#endif
  return f;
}

bool avx2_usable(const CpuFeatures& f) { return f.os_avx && f.avx2 && f.fma && f.f16c && f.bmi2; }

// The level in use; -1 until first read, so EMBER_ISA is read lazily and once.
std::atomic<int> g_level{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool isa_supported(IsaLevel level) {
  const CpuFeatures& f = cpu_features();
  switch (level) {
    case IsaLevel::kScalar:
      return true;
    case IsaLevel::kAvx2:
      return avx2_usable(f);
    case IsaLevel::kAvxVnni:
      return avx2_usable(f) && f.avx_vnni;
    case IsaLevel::kAvx512:
      return avx2_usable(f) && f.os_avx512 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl &&
             f.avx512vnni && f.avx512bf16;
  }
  return false;
}

IsaLevel best_isa_level() {
  static const IsaLevel best = [] {
    for (IsaLevel l : {IsaLevel::kAvx512, IsaLevel::kAvxVnni, IsaLevel::kAvx2})
      if (isa_supported(l)) return l;
    return IsaLevel::kScalar;
  }();
  return best;
}

IsaLevel clamp_isa_level(IsaLevel level) {
  int value = static_cast<int>(level);
  while (value > 0 && !isa_supported(static_cast<IsaLevel>(value))) --value;
  return static_cast<IsaLevel>(value);
}

IsaLevel isa_level_for_env(const char* value) {
  const std::optional<IsaLevel> named = value ? parse_isa_name(value) : std::nullopt;
  return named ? clamp_isa_level(*named) : best_isa_level();
}

IsaLevel set_isa_level(IsaLevel level) {
  const IsaLevel clamped = clamp_isa_level(level);
  g_level.store(static_cast<int>(clamped), std::memory_order_relaxed);
  return clamped;
}

IsaLevel isa_level() {
  int value = g_level.load(std::memory_order_relaxed);
  if (value >= 0) return static_cast<IsaLevel>(value);
  // First use: take EMBER_ISA unless a set_isa_level call got in first.
  const int from_env = static_cast<int>(isa_level_for_env(std::getenv("EMBER_ISA")));
  if (g_level.compare_exchange_strong(value, from_env, std::memory_order_relaxed)) return static_cast<IsaLevel>(from_env);
  return static_cast<IsaLevel>(value);
}

std::string_view isa_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::kScalar:
      return "scalar";
    case IsaLevel::kAvx2:
      return "avx2";
    case IsaLevel::kAvxVnni:
      return "avxvnni";
    case IsaLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

std::optional<IsaLevel> parse_isa_name(std::string_view name) {
  for (IsaLevel l : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvxVnni, IsaLevel::kAvx512})
    if (name == isa_name(l)) return l;
  return std::nullopt;
}

}  // namespace ember::runtime

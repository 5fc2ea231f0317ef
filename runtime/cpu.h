// CPU feature detection and the ISA level kernels dispatch on. EMBER_ISA=scalar|avx2|avxvnni|avx512
// forces a lower level (tests use it to exercise every path); a higher level than the CPU has
// is clamped, so a forced setting can never cause SIGILL.
//
// A level is usable when the CPU and the OS (XCR0 register state) support every instruction set
// its *_<isa>.cc files are compiled with (see CMakeLists.txt):
//   avx2:    AVX2, FMA, F16C, BMI2
//   avxvnni: avx2 + AVX-VNNI (VEX encoded)
//   avx512:  avx2 + AVX-512 F, BW, DQ, VL, VNNI, BF16
// kAvx512 does NOT imply AVX-VNNI (Zen 4 and Ice Lake have AVX-512 but not the VEX form), so a
// kernel may pick its avxvnni variant only when isa_level() == IsaLevel::kAvxVnni.
#pragma once
#include <optional>
#include <string_view>

namespace ember::runtime {

enum class IsaLevel : int { kScalar = 0, kAvx2 = 1, kAvxVnni = 2, kAvx512 = 3 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx_vnni = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool os_avx = false, os_avx512 = false;  // the OS saves the YMM / ZMM and opmask state
};

const CpuFeatures& cpu_features();
// Whether this CPU and OS can run code built for `level`.
bool isa_supported(IsaLevel level);
// The best level the CPU supports (ignores EMBER_ISA and set_isa_level).
IsaLevel best_isa_level();
// The level in use: the best the CPU supports, lowered by EMBER_ISA or set_isa_level.
IsaLevel isa_level();
// Selects the highest supported level <= `level`; for tests. Returns the level now in use.
IsaLevel set_isa_level(IsaLevel level);
// The highest supported level <= `level`.
IsaLevel clamp_isa_level(IsaLevel level);
// The level EMBER_ISA=value selects: the named level clamped, or the best level for an
// unset (null) or unknown value.
IsaLevel isa_level_for_env(const char* value);
std::string_view isa_name(IsaLevel level);
// "scalar", "avx2", "avxvnni", "avx512" (case-sensitive); nullopt for anything else. The CLI uses
// it to report a misspelt EMBER_ISA, which the library otherwise ignores.
std::optional<IsaLevel> parse_isa_name(std::string_view name);

}  // namespace ember::runtime

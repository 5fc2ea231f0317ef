// CPU feature detection and the ISA level kernels dispatch on. EMBER_ISA=scalar|avx2|avxvnni|avx512
// forces a lower level (tests use it to exercise every path); a higher level than the CPU has
// is clamped, so a forced setting can never cause SIGILL.
#pragma once
#include <string_view>

namespace ember::runtime {

enum class IsaLevel : int { kScalar = 0, kAvx2 = 1, kAvxVnni = 2, kAvx512 = 3 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx_vnni = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();
// The level in use: the best the CPU supports, lowered by EMBER_ISA or set_isa_level.
IsaLevel isa_level();
void set_isa_level(IsaLevel level);  // clamped to what the CPU supports; for tests
std::string_view isa_name(IsaLevel level);

}  // namespace ember::runtime

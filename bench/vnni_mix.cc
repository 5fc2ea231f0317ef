// What a VPDPBUSD costs when other vector instructions share the loop (issue 19's INT4 prefill
// bound). The INT4 unpacked kernel runs, per activation row, 16 output columns and block of 32
// depths, 8 VPDPBUSD (as the INT8 GEMM does) plus a block epilogue: an int32 -> float
// conversion, the product of the weight and activation block scales, and an FMA into the
// float sum. Which of those compete with VPDPBUSD for its execution ports decides how close
// INT4 can come to INT8. This times 16 independent VPDPBUSD chains alone and with 2 or 4
// instructions of each kind added per 16, in CPU time, and prints each added instruction's
// cost in VPDPBUSD slots (1.0: it takes a VPDPBUSD's place; 0: it runs on another port).
//
//   vnni_mix [--iters 20000000]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "runtime/cpu.h"

namespace {

double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

#define EMBER_DP(r) "vpdpbusd %%zmm30, %%zmm31, %%zmm" #r "\n"
#define EMBER_DP16                                                                                                     \
  EMBER_DP(0) EMBER_DP(1) EMBER_DP(2) EMBER_DP(3) EMBER_DP(4) EMBER_DP(5) EMBER_DP(6) EMBER_DP(7) EMBER_DP(8)       \
  EMBER_DP(9) EMBER_DP(10) EMBER_DP(11) EMBER_DP(12) EMBER_DP(13) EMBER_DP(14) EMBER_DP(15)

// Seconds per loop iteration of 16 VPDPBUSD plus `extra` (no dependencies between iterations
// other than each accumulator's own chain; zmm16-29 are scratch).
#define EMBER_TIME(extra)                                                                                              \
  [](long iters) {                                                                                                     \
    const double t0 = thread_seconds();                                                                                \
    long n = iters;                                                                                                    \
    __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31\n 1:\n" EMBER_DP16 extra   \
                     "dec %0\n jnz 1b\n"                                                                               \
                     : "+r"(n)                                                                                         \
                     :                                                                                                 \
                     : "memory", "cc");                                                                                \
    return (thread_seconds() - t0) / double(iters);                                                                    \
  }

struct Mix {
  const char* name;
  int added;
  double (*time)(long);
};

}  // namespace

int main(int argc, char** argv) {
  long iters = 20000000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
      iters = std::max(1000L, std::atol(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: vnni_mix [--iters 20000000]\n");
      return 2;
    }
  }
  if (!ember::runtime::isa_supported(ember::runtime::IsaLevel::kAvx512)) {
    std::printf("skipped: this CPU has no AVX-512 VNNI\n");
    return 0;
  }
  const Mix mixes[] = {
      {"16 VPDPBUSD alone", 0, EMBER_TIME("")},
      {"+ 2 VFMADD231PS", 2, EMBER_TIME("vfmadd231ps %%zmm30, %%zmm31, %%zmm16\n vfmadd231ps %%zmm30, %%zmm31, %%zmm17\n")},
      {"+ 2 VMULPS", 2, EMBER_TIME("vmulps %%zmm30, %%zmm31, %%zmm18\n vmulps %%zmm30, %%zmm31, %%zmm19\n")},
      {"+ 2 VCVTDQ2PS", 2, EMBER_TIME("vcvtdq2ps %%zmm30, %%zmm20\n vcvtdq2ps %%zmm31, %%zmm21\n")},
      {"+ 4 VPADDD", 4, EMBER_TIME("vpaddd %%zmm30, %%zmm31, %%zmm20\n vpaddd %%zmm30, %%zmm31, %%zmm21\n"
                                   "vpaddd %%zmm30, %%zmm31, %%zmm22\n vpaddd %%zmm30, %%zmm31, %%zmm23\n")},
      {"+ 4 VADDPS", 4, EMBER_TIME("vaddps %%zmm30, %%zmm31, %%zmm20\n vaddps %%zmm30, %%zmm31, %%zmm21\n"
                                   "vaddps %%zmm30, %%zmm31, %%zmm22\n vaddps %%zmm30, %%zmm31, %%zmm23\n")},
      {"+ 4 VPBROADCASTD from memory", 4, EMBER_TIME("vpbroadcastd (%%rsp), %%zmm20\n vpbroadcastd 4(%%rsp), %%zmm21\n"
                                                     "vpbroadcastd 8(%%rsp), %%zmm22\n vpbroadcastd 12(%%rsp), %%zmm23\n")},
      {"+ 2 FMA + 2 MUL + 2 CVT (INT4's epilogue, 2 rows)", 6,
       EMBER_TIME("vfmadd231ps %%zmm30, %%zmm31, %%zmm16\n vfmadd231ps %%zmm30, %%zmm31, %%zmm17\n"
                  "vmulps %%zmm30, %%zmm31, %%zmm18\n vmulps %%zmm30, %%zmm31, %%zmm19\n"
                  "vcvtdq2ps %%zmm30, %%zmm20\n vcvtdq2ps %%zmm31, %%zmm21\n")},
  };
  const double base = mixes[0].time(iters);
  const double slot = base / 16;
  std::printf("VPDPBUSD zmm, 16 chains: %.3f ns each (%.2f per ns)\n", slot * 1e9, 1e-9 / slot);
  std::printf("%-52s %10s %22s\n", "loop", "ns/iter", "VPDPBUSD slots each");
  std::printf("%-52s %10.3f %22s\n", mixes[0].name, base * 1e9, "");
  for (size_t i = 1; i < sizeof(mixes) / sizeof(mixes[0]); ++i) {
    const double t = mixes[i].time(iters);
    std::printf("%-52s %10.3f %22.2f\n", mixes[i].name, t * 1e9, (t - base) / slot / mixes[i].added);
  }
  return 0;
}

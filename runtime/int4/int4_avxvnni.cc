// AVX-VNNI INT4 kernel (VEX VPDPBUSD on YMM): a group of 16 columns as two 8-lane halves, two
// rows at a time (the unpacked kernel: a 3 x 16 tile). Only reached through kInt4AvxVnniKernels after dispatch.
#include "runtime/int4/int4_requant_ymm.h"
#include "runtime/int4/int4_ymm.h"

namespace ember::runtime::int4 {
namespace {

struct Int4AvxVnni : Int4Ymm {
  static constexpr bool kInt16Sums = false;
  // Inline assembly for the reason given in qgemm_avx512.cc (GCC 12 copies accumulators).
  static IReg dpbusd(IReg acc, IReg w, IReg x) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(w), "x"(x));
    return acc;
  }
};

}  // namespace

constinit const Int4Kernels kInt4AvxVnniKernels = {
    .run = &run_kernel<Int4AvxVnni, 2>,
    .run_unpacked = &run_unpacked<Int4AvxVnni, 1, 3>,
    .panel_groups = 1,
    .quantize_block = &quantize_block_ymm,
    .requantize_group = &requantize_group_ymm,
};

}  // namespace ember::runtime::int4

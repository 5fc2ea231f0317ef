// AVX2 INT4 kernel: VPDPBUSD replaced by vpmaddubsw, exact here because the unsigned operand
// is a 4-bit code (2 * 15 * 127 never saturates int16); a block's eight products add up in
// int16 and widen once with vpmaddwd. Two rows at a time; the unpacked kernel (bytes up to 30)
// adds four quads in int16 and takes a 2 x 16 tile.
// Only reached through kInt4Avx2Kernels after dispatch.
#include "runtime/int4/int4_requant_ymm.h"
#include "runtime/int4/int4_ymm.h"

namespace ember::runtime::int4 {
namespace {

struct Int4Avx2 : Int4Ymm {
  static constexpr bool kInt16Sums = true;
  static IReg maddubs(IReg w, IReg x) { return _mm256_maddubs_epi16(w, x); }
  static IReg add16(IReg a, IReg b) { return _mm256_add_epi16(a, b); }
  static IReg widen_pairs(IReg v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }
};

}  // namespace

constinit const Int4Kernels kInt4Avx2Kernels = {
    .run = &run_kernel<Int4Avx2, 2>,
    .run_unpacked = &run_unpacked<Int4Avx2, 1, 2>,
    .panel_groups = 1,
    .quantize_block = &quantize_block_ymm,
    .requantize_group = &requantize_group_ymm,
    .requant_prefill = false,
};

}  // namespace ember::runtime::int4

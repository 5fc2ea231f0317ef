// The clipping search of choose_params for the 16 lanes of an AVX-512 tile (rtn_tile.h): row k
// of the tile holds element k of each lane's group. Only the _avx512.cc files include this
// header (it passes __m512 values).
//
// The choice is choose_params', bit for bit: candidate c = 1 - clip_step * s for s < kClipSteps,
// each candidate's error summed in the order group_errors_avx512 sums a contiguous group (lane
// k mod 16 of 16 accumulators, then _mm512_reduce_add_ps's tree), the first candidate with the
// least error kept. What makes it cheaper is only what cannot change that choice:
// - scales and reciprocals come from fused multiply-adds instead of divisions (correctly
//   rounded, so the same values: clip_tile_avx512.cc says why);
// - a lane skips a candidate whose error provably cannot be below the best so far: the
//   clipping errors of the group's two largest and two smallest values (terms of the float
//   sum, or less), less a margin for the float sum's roundings (clip_tile_avx512.cc);
// - a candidate under which no value of the tile can leave the code range is evaluated without
//   the clamps (they would change nothing); the first candidates, which clip nothing, are
//   evaluated without waiting on each other's errors;
// - the search stops at the first candidate no lane may take: the bounds only grow along the
//   grid and the best errors only fall.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "passes/quantize/quant_math.h"

namespace ember::passes::quant {

// Each lane's range, widened to include 0, its second largest and second smallest values (0
// when the lane has fewer than two values of that sign), and its sum of squares (summed as
// rtn_tile_avx512.cc's error records it; not finite when the lane holds a NaN or an infinity),
// taken row by row while the tile is loaded.
struct TileRange {
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  __m512 lo2 = _mm512_setzero_ps(), hi2 = _mm512_setzero_ps();
  __m512 squares = _mm512_setzero_ps();
  void add(__m512 v) {
    hi2 = _mm512_max_ps(_mm512_min_ps(v, hi), hi2);
    lo2 = _mm512_min_ps(_mm512_max_ps(v, lo), lo2);
    lo = _mm512_min_ps(v, lo);  // std::min(lo, v) = v < lo ? v : lo, as group_range
    hi = _mm512_max_ps(v, hi);  // std::max(hi, v) = hi < v ? v : hi
    squares = _mm512_fmadd_ps(v, v, squares);
  }
  // No NaN or infinity in any lane (nor a sum of squares past the float range, which takes
  // the slow exact steps too).
  bool finite() const { return _mm512_cmp_ps_mask(_mm512_abs_ps(squares), _mm512_set1_ps(INFINITY), _CMP_LT_OQ) == 0xffff; }
};

struct LaneScales {
  __m512 scale, inv;  // params_from_range's scale per lane, and 1 / scale
};

// params_from_range(lo, hi, f, 1) per lane (symmetric formats).
LaneScales minmax_scales(const TileRange& range, QuantFormat f);

// choose_params(..., ClipMode::kMse) per lane for a tile of `padded` rows (a multiple of 16,
// zeros past the groups' length). Symmetric formats.
LaneScales clip_search_tile(const __m512* rows, int64_t padded, const TileRange& range, QuantFormat f);

}  // namespace ember::passes::quant

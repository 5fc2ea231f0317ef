// The clipping search's inner loop with AVX-512 (clip_search_avx512.cc): the squared rounding
// error of one group of contiguous weights under many candidate parameters, the group kept in
// registers across the candidates. Same arithmetic as quant_math.cc's group_error (scale,
// round half to even by the 1.5 * 2^23 trick, clamp in the float domain), but summed in 16
// lanes, so an error may differ from group_error's in its last bits.
#pragma once
#include <cstdint>

#include "passes/quantize/quant_math.h"

namespace ember::passes::quant {

// The clipping grid: candidates c = 1 - clip_step(bits) * s for s < kClipSteps; 4 bits lose
// much more to rounding, so they are searched deeper.
constexpr int kClipSteps = 26;
inline float clip_step(int bits) { return bits <= 4 ? 0.02f : 0.01f; }
// 1 - clip_step(bits) * s, computed in quant_math.cc: files built with FMA would contract the
// expression into one rounding and get other factors.
float clip_factor(int bits, int s);

// True when this CPU (and EMBER_ISA) runs the AVX-512 path.
bool clip_search_vectorized();

// errors[c] = sum over i < n of (x[i] - dequant(quant(x[i]; params[c])))^2, for c < count.
void group_errors_avx512(const float* x, int64_t n, const GroupParams* params, int count, QuantFormat f, float* errors);

}  // namespace ember::passes::quant

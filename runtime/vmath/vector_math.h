// Whole-array float math for the hot elementwise paths (Softmax's exp, Tanh, Erf, Sigmoid,
// GELU, LayerNormalization, activation quantization). The same fast_math.h formulas are compiled three times, for
// the x86-64 baseline (vector_math.cc), AVX2 + FMA (vector_math_avx2.cc, 8 lanes) and AVX-512
// (vector_math_avx512.cc, 16 lanes), and the level is chosen at run time from cpu.h (EMBER_ISA
// lowers it). The FMA builds contract multiply-adds, so they differ from the baseline in the
// last bits, never beyond fast_math.h's stated 1e-6; quantize_u8 gives the same bytes on all.
#pragma once
#include <cstdint>

namespace ember::runtime::vmath {

void exp_shifted(const float* x, float* y, int64_t n, float shift);  // y = e^(x - shift)
void tanh(const float* x, float* y, int64_t n);
void erf(const float* x, float* y, int64_t n);
void sigmoid(const float* x, float* y, int64_t n);
void gelu_erf(const float* x, float* y, int64_t n);   // x/2 (1 + erf(x / sqrt 2))
void gelu_tanh(const float* x, float* y, int64_t n);  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
float max(const float* x, int64_t n);                 // n >= 1; NaNs are skipped unless first
double sum(const float* x, int64_t n);
// y = Softmax(x) of one row (n >= 1, y may be x): max, e^(x - max), the sum in double as
// `sum`, one reciprocal.
void softmax(const float* x, float* y, int64_t n);
// LayerNormalization: sum of (x - center)^2 (float lanes over blocks, summed in double, as
// `sum`), and y = (x - mean) * inv * s (+ b when not null).
double squared_deviations(const float* x, int64_t n, float center);
void normalize_affine(const float* x, int64_t n, float mean, float inv, const float* s, const float* b, float* y);
// The length of x once its tail of values <= threshold is cut off: the smallest e with every
// x[e, n) <= threshold (a NaN is never cut). The fused attention's key extent.
int64_t extent_above(const float* x, int64_t n, float threshold);
// For the activation quantizers (runtime/qgemm/quantize_act.h): the range of x widened to
// include 0, max |x| (NaNs skipped), and y = saturate(round_half_even(x / scale) + zero_point)
// clamped to [lo, hi], stored plus offset (QuantizeLinear; every ISA gives the same bytes).
void range_with_zero(const float* x, int64_t n, float* lo, float* hi);
float abs_max(const float* x, int64_t n);
void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, int32_t lo, int32_t hi, int32_t offset,
                 uint8_t* y);

// One ISA's implementations; vector_math.cc picks a table.
struct Table {
  void (*exp_shifted)(const float*, float*, int64_t, float);
  void (*tanh)(const float*, float*, int64_t);
  void (*erf)(const float*, float*, int64_t);
  void (*sigmoid)(const float*, float*, int64_t);
  void (*gelu_erf)(const float*, float*, int64_t);
  void (*gelu_tanh)(const float*, float*, int64_t);
  float (*max)(const float*, int64_t);
  double (*sum)(const float*, int64_t);
  void (*softmax)(const float*, float*, int64_t);
  double (*squared_deviations)(const float*, int64_t, float);
  void (*normalize_affine)(const float*, int64_t, float, float, const float*, const float*, float*);
  int64_t (*extent_above)(const float*, int64_t, float);
  void (*range_with_zero)(const float*, int64_t, float*, float*);
  float (*abs_max)(const float*, int64_t);
  void (*quantize_u8)(const float*, int64_t, float, int32_t, int32_t, int32_t, int32_t, uint8_t*);
};
const Table& baseline_table();
const Table& avx2_table();
const Table& avx512_table();

}  // namespace ember::runtime::vmath

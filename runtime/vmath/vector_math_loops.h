// The loops behind vector_math.h, instantiated once per ISA translation unit with a tag type
// from that unit's anonymous namespace, so each build has its own symbols (no ODR mixing of
// AVX2 and baseline code). fast_math.h's functions are force-inlined into them. `omp simd`
// (-fopenmp-simd) vectorises loops GCC's -O2 cost model would leave scalar.
#pragma once
#include <cstdint>

#include "runtime/kernels/fast_math.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime::vmath {

template <class Isa>
struct Loops {
  static void exp_shifted(const float* x, float* y, int64_t n, float shift) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = fast_exp(x[i] - shift);
  }
  static void tanh(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = fast_tanh(x[i]);
  }
  static void erf(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = fast_erf(x[i]);
  }
  // For x << 0, e^-x overflows to inf and the result is 0, within a denormal of the truth.
  static void sigmoid(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + fast_exp(-x[i]));
  }
  static void gelu_erf(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * 0.70710678118654752440f));
  }
  // 0.5 v (1 + tanh(u)) = v / (1 + e^(-2u)): one exp, and no cancellation where tanh(u) -> -1.
  static void gelu_tanh(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      y[i] = v / (1.0f + fast_exp(-1.59576912160573071176f * (v + 0.044715f * v * v * v)));
    }
  }
  // Eight independent lanes, so the loops vectorise without -ffast-math.
  static float max(const float* x, int64_t n) {
    float lanes[8];
    for (float& l : lanes) l = x[0];
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
#pragma omp simd
      for (int k = 0; k < 8; ++k) lanes[k] = x[i + k] > lanes[k] ? x[i + k] : lanes[k];
    float m = x[0];
    for (float l : lanes) m = l > m ? l : m;
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
  }
  // Float lanes over blocks of 64, summed into double: vector speed, double-like accuracy.
  static double sum(const float* x, int64_t n) {
    return blocked_sum(x, n, [](float v) { return v; });
  }
  // sum of term(x[i]) that way.
  template <class Term>
  static double blocked_sum(const float* x, int64_t n, Term term) {
    double total = 0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
      float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t j = 0; j < 64; j += 8)
#pragma omp simd
        for (int k = 0; k < 8; ++k) lanes[k] += term(x[i + j + k]);
      for (float l : lanes) total += l;
    }
    for (; i < n; ++i) total += term(x[i]);
    return total;
  }
  static void softmax(const float* x, float* y, int64_t n) {
    exp_shifted(x, y, n, max(x, n));
    const float inv = static_cast<float>(1.0 / sum(y, n));
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
  // LayerNormalization's second pass, sum (x - center)^2, and its output (x - mean) inv s (+ b),
  // blocked as `sum` is.
  static double squared_deviations(const float* x, int64_t n, float center) {
    return blocked_sum(x, n, [center](float v) {
      const float d = v - center;
      return d * d;
    });
  }
  static void normalize_affine(const float* x, int64_t n, float mean, float inv, const float* s, const float* b,
                               float* y) {
    if (b) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * s[i] + b[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * s[i];
    }
  }
  // Blocks of 16 from the end, each tested as a whole (the loop vectorises), then one by one.
  static int64_t extent_above(const float* x, int64_t n, float threshold) {
    int64_t e = n;
    for (; e >= 16; e -= 16) {
      int32_t above = 0;
#pragma omp simd reduction(| : above)
      for (int64_t k = e - 16; k < e; ++k) above |= !(x[k] <= threshold);
      if (above) break;
    }
    while (e > 0 && x[e - 1] <= threshold) --e;
    return e;
  }
  // The activation quantizers' reductions: the range [min(0, x), max(0, x)] and max |x|.
  static void range_with_zero(const float* x, int64_t n, float* lo_out, float* hi_out) {
    float lo = 0.0f, hi = 0.0f;
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t i = 0; i < n; ++i) {
      lo = x[i] < lo ? x[i] : lo;
      hi = x[i] > hi ? x[i] : hi;
    }
    *lo_out = lo;
    *hi_out = hi;
  }
  static float abs_max(const float* x, int64_t n) {
    float m = 0.0f;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; ++i) {
      const float a = x[i] < 0.0f ? -x[i] : x[i];
      m = a > m ? a : m;
    }
    return m;
  }
  // y = saturate(round_half_even(x / scale) + zero_point) in [lo, hi], stored + offset:
  // quantize_value (kernels/quant_types.h) without branches, so that it vectorizes; the same
  // operations on the same floats, so the same bytes on every ISA. (GCC if-converts the
  // selects only when comparisons may not trap; nothing here relies on FP exceptions.)
  //
  // With FMA the quotient avoids the divider (a fifth of the multiplier's rate): q0 = x * r with
  // r = RN(1 / scale), the exact residual e = x - q0 * scale by FMA, then RN(q0 + e * r), which
  // is RN(x / scale) itself (Markstein's theorem: r within half an ulp of 1 / scale and q0
  // within one ulp of the quotient). Where that cannot hold (r not finite and normal, or |q0|
  // beyond the clamp, where q0 itself decides) it falls back to q0 or to the division.
  [[gnu::optimize("no-trapping-math")]] static void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point,
                                                               int32_t lo, int32_t hi, int32_t offset, uint8_t* y) {
    const float r = 1.0f / scale;
    const QuantizeTo to{static_cast<float>(zero_point), static_cast<float>(lo), static_cast<float>(hi), offset};
    if (Isa::kFma && r == r && r < 1e37f && r > -1e37f && (r > 1e-37f || r < -1e-37f)) {
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) {
        const float q0 = x[k] * r;
        const float e = __builtin_fmaf(-q0, scale, x[k]);
        const float q1 = __builtin_fmaf(e, r, q0);
        y[k] = to.byte(q0 < QuantizeTo::kLimit && q0 > -QuantizeTo::kLimit ? q1 : q0);
      }
    } else {
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) y[k] = to.byte(x[k] / scale);
    }
  }
  // The rest of quantize_u8 after the quotient v: NaN to 0, round half to even, add the zero
  // point, clamp, add the offset.
  struct QuantizeTo {
    static constexpr float kLimit = 4194304.0f;   // 2^22
    static constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
    float zp, lo, hi;
    int32_t offset;
    [[gnu::always_inline, gnu::optimize("no-trapping-math")]] uint8_t byte(float v) const {
      v = v == v ? v : 0.0f;
      v = v < -kLimit ? -kLimit : (v > kLimit ? kLimit : v);
      float q = ((v + kMagic) - kMagic) + zp;
      q = q < lo ? lo : (q > hi ? hi : q);
      return static_cast<uint8_t>(static_cast<int32_t>(q) + offset);
    }
  };
  static constexpr Table table() {
    return {exp_shifted,        tanh,   erf, sigmoid, gelu_erf, gelu_tanh,      max,
            sum,                softmax,            squared_deviations, normalize_affine, extent_above, range_with_zero, abs_max, quantize_u8};
  }
};

}  // namespace ember::runtime::vmath

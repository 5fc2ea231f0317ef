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
  static void gelu_tanh(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      y[i] = 0.5f * v * (1.0f + fast_tanh(0.79788456080286535588f * (v + 0.044715f * v * v * v)));
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
    double total = 0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
      float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t j = 0; j < 64; j += 8)
#pragma omp simd
        for (int k = 0; k < 8; ++k) lanes[k] += x[i + j + k];
      for (float l : lanes) total += l;
    }
    for (; i < n; ++i) total += x[i];
    return total;
  }
  static constexpr Table table() {
    return {exp_shifted, tanh, erf, sigmoid, gelu_erf, gelu_tanh, max, sum};
  }
};

}  // namespace ember::runtime::vmath

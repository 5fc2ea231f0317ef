// exp, erf and tanh for float, written so the compiler vectorises loops that call them (no
// library call, no branch: both sides of a range split are computed and one is selected).
// Each stays within 1e-6 relative of the std:: function wherever the result is a normal
// float (the tests sweep the range); inf and NaN behave as in std::. Double inputs use std::.
//   exp:  x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), a degree-6 polynomial for
//         e^r (Cephes expf coefficients), 2^n built in the exponent bits in two halves so
//         results near overflow and in the denormal range come out right.
//   erf:  |x| < 0.8: the Maclaurin series to x^17; beyond: Abramowitz & Stegun 7.1.26,
//         1 - t(a1 + a2 t + ... + a5 t^4) e^(-x^2) with t = 1 / (1 + p|x|), abs. error 1.5e-7.
//         (A cheaper form without exp, A&S 7.1.28 at 3e-7, cost kjv-bert's dynamic INT8 model
//         three eval rows, 0.5161 -> 0.5141: not worth its 2-3%.)
//   tanh: |x| < 0.55: the Maclaurin series to x^17; beyond: 1 - 2 / (e^(2|x|) + 1), which
//         has no cancellation there.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace ember::runtime {

// c ? a : b through bit masks. A plain ?: with a constant arm lets the optimiser fold a
// constant copy of the whole computation that overflows, which -O2 treats as a possible
// trap and then refuses to vectorise the loop.
[[gnu::always_inline]] inline float clamp_select(bool c, float a, float b) {
  const int32_t mask = -static_cast<int32_t>(c);
  return std::bit_cast<float>((std::bit_cast<int32_t>(a) & mask) | (std::bit_cast<int32_t>(b) & ~mask));
}

[[gnu::always_inline]] inline float fast_exp(float x) {
  // Beyond these bounds the result is inf or 0 anyway; clamping keeps n in range. NaN
  // fails both tests and flows through.
  x = clamp_select(x < -104.0f, -104.0f, x);
  x = clamp_select(x > 88.8f, 88.8f, x);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  const int32_t ni = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t half = ni >> 1;
  const float scale_a = std::bit_cast<float>((half + 127) << 23);
  const float scale_b = std::bit_cast<float>((ni - half + 127) << 23);
  return y * scale_a * scale_b;
}

[[gnu::always_inline]] inline float copy_sign_bit(float magnitude, float sign_source) {
  const int32_t sign = std::bit_cast<int32_t>(sign_source) & INT32_MIN;
  return std::bit_cast<float>(std::bit_cast<int32_t>(magnitude) | sign);
}

[[gnu::always_inline]] inline float fast_erf(float x) {
  const float ax = std::bit_cast<float>(std::bit_cast<int32_t>(x) & INT32_MAX);
  const float x2 = x * x;
  // erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
  float s = 1.0f / 685440;
  s = s * x2 - 1.0f / 75600;
  s = s * x2 + 1.0f / 9360;
  s = s * x2 - 1.0f / 1320;
  s = s * x2 + 1.0f / 216;
  s = s * x2 - 1.0f / 42;
  s = s * x2 + 1.0f / 10;
  s = s * x2 - 1.0f / 3;
  s = s * x2 + 1.0f;
  const float small = 1.12837916709551257f * x * s;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float large = copy_sign_bit(1.0f - p * t * fast_exp(-x2), x);
  return clamp_select(ax < 0.8f, small, large);
}

[[gnu::always_inline]] inline float fast_tanh(float x) {
  const float ax = std::bit_cast<float>(std::bit_cast<int32_t>(x) & INT32_MAX);
  const float x2 = x * x;
  float s = 6404582.0f / 10854718875.0f;
  s = s * x2 - 929569.0f / 638512875.0f;
  s = s * x2 + 21844.0f / 6081075.0f;
  s = s * x2 - 1382.0f / 155925.0f;
  s = s * x2 + 62.0f / 2835.0f;
  s = s * x2 - 17.0f / 315.0f;
  s = s * x2 + 2.0f / 15.0f;
  s = s * x2 - 1.0f / 3.0f;
  s = s * x2 + 1.0f;
  const float small = x * s;
  const float large = copy_sign_bit(1.0f - 2.0f / (fast_exp(2.0f * ax) + 1.0f), x);
  return clamp_select(ax < 0.55f, small, large);
}

// The fast versions for float, std:: for double.
template <class T>
T exp_value(T x) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return fast_exp(x);
  } else {
    return std::exp(x);
  }
}
template <class T>
T erf_value(T x) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return fast_erf(x);
  } else {
    return std::erf(x);
  }
}
template <class T>
T tanh_value(T x) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return fast_tanh(x);
  } else {
    return std::tanh(x);
  }
}

}  // namespace ember::runtime

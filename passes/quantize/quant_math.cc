#include "passes/quantize/quant_math.h"
#include "ir/nibbles.h"

#include <algorithm>
#include <cmath>

#include "passes/quantize/clip_search.h"
#include "runtime/cpu.h"
#include "runtime/parallel.h"

namespace ember::passes::quant {
float clip_factor(int bits, int s) { return 1.0f - clip_step(bits) * float(s); }

bool clip_search_vectorized() { return runtime::isa_level() >= runtime::IsaLevel::kAvx512; }

std::string QuantFormat::text() const {
  return std::string(symmetric ? "int" : "uint") + std::to_string(bits) + (symmetric ? " sym" : " asym");
}

float round_half_even_slow(float x) {
  const float f = std::floor(x);
  const float d = x - f;
  if (d != 0.5f) return d < 0.5f ? f : f + 1.0f;
  return std::fmod(f, 2.0f) == 0.0f ? f : f + 1.0f;
}

namespace {

// The group's range, widened to include 0.
void group_range(const float* x, int64_t n, int64_t stride, float& lo, float& hi) {
  lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i * stride];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
}

}  // namespace

GroupParams params_from_range(float lo, float hi, QuantFormat f, float clip) {
  GroupParams p;
  if (f.symmetric) {
    const float amax = std::max(-lo, hi) * clip;
    if (!(amax > 1e-30f)) return p;  // all zeros (or NaN): any scale reproduces them
    p.scale = amax / static_cast<float>(f.qmax());
    return p;
  }
  lo *= clip;
  hi *= clip;
  if (!(hi - lo > 1e-30f)) return p;
  p.scale = (hi - lo) / static_cast<float>(f.qmax());
  const float zp = round_half_even(-lo / p.scale);
  p.zero_point = static_cast<int32_t>(std::clamp(zp, 0.0f, static_cast<float>(f.qmax())));
  return p;
}

GroupParams minmax_params(const float* x, int64_t n, int64_t stride, QuantFormat f, float clip) {
  float lo, hi;
  group_range(x, n, stride, lo, hi);
  return params_from_range(lo, hi, f, clip);
}

double group_error(const float* x, int64_t n, int64_t stride, const float* weight, GroupParams p, QuantFormat f) {
  const float inv = 1.0f / p.scale, scale = p.scale;
  // Clamping in the float domain: codes are small integers, exactly representable.
  const float lo = static_cast<float>(f.qmin() - p.zero_point), hi = static_cast<float>(f.qmax() - p.zero_point);
  constexpr float kMagic = 12582912.0f;
  float err = 0;
  if (stride == 1 && !weight) {
#pragma omp simd reduction(+ : err)
    for (int64_t i = 0; i < n; ++i) {
      // round_half_even inlined for the vectoriser; |x * inv| beyond 2^22 saturates anyway.
      float q = std::min(std::max(x[i] * inv, -4194304.0f), 4194304.0f);
      q = (q + kMagic) - kMagic;
      q = std::min(std::max(q, lo), hi);
      const float d = x[i] - q * scale;
      err += d * d;
    }
    return err;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i * stride];
    const float q = std::min(std::max(round_half_even(v * inv), lo), hi);
    const float d = v - q * scale;
    err += weight ? weight[i] * d * d : d * d;
  }
  return err;
}

GroupParams choose_params(const float* x, int64_t n, int64_t stride, const float* weight, QuantFormat f, ClipMode clip) {
  // The range is found once; each clipping candidate only scales it.
  float lo, hi;
  group_range(x, n, stride, lo, hi);
  GroupParams best = params_from_range(lo, hi, f, 1.0f);
  if (clip == ClipMode::kNone) return best;
  if (stride == 1 && !weight && clip_search_vectorized()) {
    // Every candidate's error in one call, the group in registers; the same choice rule.
    GroupParams candidates[kClipSteps];
    float errors[kClipSteps];
    for (int s = 0; s < kClipSteps; ++s) candidates[s] = params_from_range(lo, hi, f, clip_factor(f.bits, s));
    group_errors_avx512(x, n, candidates, kClipSteps, f, errors);
    float best_err = errors[0];
    for (int s = 1; s < kClipSteps && best_err > 0; ++s)
      if (errors[s] < best_err) best_err = errors[s], best = candidates[s];
    return best;
  }
  double best_err = group_error(x, n, stride, weight, best, f);
  for (int s = 1; s < kClipSteps && best_err > 0; ++s) {
    const GroupParams p = params_from_range(lo, hi, f, clip_factor(f.bits, s));
    const double err = group_error(x, n, stride, weight, p, f);
    if (err < best_err) best_err = err, best = p;
  }
  return best;
}

std::vector<float> QuantizedMatrix::dequantize() const {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(r * cols + c)] = value(r, c);
  return out;
}

QuantizedMatrix make_quantized_matrix(int64_t rows, int64_t cols, int64_t group, QuantFormat f) {
  QuantizedMatrix q;
  q.rows = rows;
  q.cols = cols;
  q.group = group > 0 ? std::min(group, cols) : cols;
  q.format = f;
  q.codes.assign(static_cast<size_t>(rows * cols), 0);
  q.scales.assign(static_cast<size_t>(rows * q.groups()), 1.0f);
  q.zero_points.assign(static_cast<size_t>(rows * q.groups()), 0);
  return q;
}

void quantize_span(QuantizedMatrix& q, int64_t r, int64_t c0, int64_t n, const float* w, GroupParams p) {
  const size_t g = static_cast<size_t>(r * q.groups() + c0 / q.group);
  q.scales[g] = p.scale;
  q.zero_points[g] = p.zero_point;
  const float inv = 1.0f / p.scale;
  const int32_t qmin = q.format.qmin(), qmax = q.format.qmax();
  int32_t* codes = q.codes.data() + r * q.cols + c0;
  for (int64_t i = 0; i < n; ++i) codes[i] = quantize_value(w[i], inv, p.zero_point, qmin, qmax);
}

QuantizedMatrix quantize_rtn(const float* w, int64_t rows, int64_t cols, int64_t group, QuantFormat f, ClipMode clip,
                             const float* col_weight) {
  QuantizedMatrix q = make_quantized_matrix(rows, cols, group, f);
  const int64_t g = q.group;
  runtime::parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c0 = 0; c0 < cols; c0 += g) {
        const int64_t n = std::min(g, cols - c0);
        const float* x = w + r * cols + c0;
        const GroupParams p = choose_params(x, n, 1, col_weight ? col_weight + c0 : nullptr, f, clip);
        quantize_span(q, r, c0, n, x, p);
      }
  });
  return q;
}

double relative_error(const float* w, const QuantizedMatrix& q) {
  double num = 0, den = 0;
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) {
      const double v = w[r * q.cols + c];
      const double d = v - static_cast<double>(q.value(r, c));
      num += d * d;
      den += v * v;
    }
  return den > 0 ? std::sqrt(num / den) : 0.0;
}

void pack_int4(const int32_t* codes, int64_t n, uint8_t* out) { nibbles::pack(codes, n, out); }

std::vector<int32_t> unpack_int4(const uint8_t* packed, int64_t n, bool is_signed) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  nibbles::unpack(packed, n, is_signed, out.data());
  return out;
}

}  // namespace ember::passes::quant

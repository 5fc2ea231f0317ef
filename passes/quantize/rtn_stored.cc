#include "passes/quantize/rtn_stored.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ir/nibbles.h"
#include "passes/quantize/clip_search.h"
#include "passes/quantize/rtn_tile.h"
#include "runtime/parallel.h"

namespace ember::passes::quant {
namespace {

constexpr int64_t kStrip = 16;            // channels per tile of a [K, C] weight (even: whole nibble pairs)
constexpr int64_t kRangeColumns = 256;    // columns per range chunk of the min/max path
constexpr int64_t kChunkValues = 1 << 16; // weights per parallel chunk, at least

struct Sums {
  double num = 0, den = 0;  // sum of (w - dequant)^2, sum of w^2
  void add(double n, double d) { num += n, den += d; }
};

// Where codes go: the bytes of an 8-bit or packed 4-bit tensor, by flat element index.
struct CodeSink {
  uint8_t* bytes = nullptr;
  int bits = 8;
  void put(int64_t flat, int32_t code) const {
    if (bits == 4) nibbles::set(bytes, flat, code);
    else bytes[flat] = static_cast<uint8_t>(code);  // the two's complement byte of an int8 code
  }
  template <class Code>
  void put_span(int64_t flat, const Code* codes, int64_t n) const {
    if (bits != 4) {
      for (int64_t i = 0; i < n; ++i) bytes[flat + i] = static_cast<uint8_t>(codes[i]);
      return;
    }
    int64_t i = 0;
    if (n > 0 && (flat & 1)) put(flat, codes[i++]);
    for (; i + 1 < n; i += 2) bytes[(flat + i) >> 1] = nibbles::pack_pair(codes[i], codes[i + 1]);
    if (i < n) put(flat + i, codes[i]);
  }
};

struct Outputs {
  CodeSink codes;
  float* scales = nullptr;
  CodeSink zero_points;  // bytes null when symmetric
  void set_params(int64_t i, GroupParams p) const {
    scales[i] = p.scale;
    if (zero_points.bytes) zero_points.put(i, p.zero_point);
  }
};

// codes[i] = quantize_value(x[i], inv[i * kStep], zp[i * kStep], qmin, qmax) for i < n, and the
// squared error and squared sum of the span. Vectorised for the usual |x * inv| < 2^22 (the
// range where round_half_even is the 1.5 * 2^23 trick); a span with anything else (NaN, inf)
// is redone with quantize_value itself.
template <int kStep>
Sums quantize_codes(const float* x, int64_t n, const float* inv, const float* scale, const int32_t* zp, QuantFormat f,
                    int32_t* codes) {
  constexpr float kMagic = 12582912.0f, kLimit = 4194304.0f;
  const int32_t qmin = f.qmin(), qmax = f.qmax();
  float num = 0, den = 0;
  int outside = 0;
#pragma omp simd reduction(+ : num, den, outside)
  for (int64_t i = 0; i < n; ++i) {
    const float t = x[i] * inv[i * kStep];
    outside += !(t > -kLimit && t < kLimit);
    float r = (t + kMagic) - kMagic;
    r = r > -kLimit ? r : -kLimit;  // keeps the conversion defined for lanes redone below
    r = r < kLimit ? r : kLimit;
    int32_t q = static_cast<int32_t>(r) + zp[i * kStep];
    q = q < qmin ? qmin : (q > qmax ? qmax : q);
    codes[i] = q;
    const float d = x[i] - static_cast<float>(q - zp[i * kStep]) * scale[i * kStep];
    num += d * d;
    den += x[i] * x[i];
  }
  if (outside == 0) return {num, den};
  num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    codes[i] = quantize_value(x[i], inv[i * kStep], zp[i * kStep], qmin, qmax);
    const float d = x[i] - static_cast<float>(codes[i] - zp[i * kStep]) * scale[i * kStep];
    num += d * d;
    den += x[i] * x[i];
  }
  return {num, den};
}

Sums quantize_group(const float* x, int64_t n, GroupParams p, QuantFormat f, int32_t* codes) {
  const float inv = 1.0f / p.scale;  // as quantize_span computes it
  return quantize_codes<0>(x, n, &inv, &p.scale, &p.zero_point, f, codes);
}

// Stored [C, K]: a row is a channel, its groups contiguous. Rows go in pairs so that a 4-bit
// byte shared by two rows (odd K) is written by one thread.
void rows_first(const float* w, int64_t C, int64_t K, int64_t g, QuantFormat f, ClipMode clip, const Outputs& out,
                std::vector<Sums>& sums) {
  const int64_t G = (K + g - 1) / g;
  sums.assign(size_t(C), {});
  runtime::parallel_for((C + 1) / 2, std::max<int64_t>(1, kChunkValues / (2 * K)), [&](int64_t p0, int64_t p1) {
    std::vector<int32_t> codes(static_cast<size_t>(g));
    for (int64_t r = 2 * p0; r < std::min(C, 2 * p1); ++r)
      for (int64_t j = 0; j < G; ++j) {
        const int64_t c0 = j * g, n = std::min(g, K - c0);
        const float* x = w + r * K + c0;
        const GroupParams p = choose_params(x, n, 1, nullptr, f, clip);
        out.set_params(r * G + j, p);
        const Sums e = quantize_group(x, n, p, f, codes.data());
        sums[size_t(r)].add(e.num, e.den);
        out.codes.put_span(r * K + c0, codes.data(), n);
      }
  });
}

// Stored [C, K], symmetric, with AVX-512: tiles of 16 rows (channels) x one group, transposed
// in registers (rtn_tile.h). Groups start on whole bytes (g and K even for 4 bits), so tiles
// never share a byte; a thread walks one strip of rows along K.
bool rows_first_tiles_apply(int64_t K, int64_t g, QuantFormat f) {
  return f.symmetric && clip_search_vectorized() && (f.bits == 8 || (K % 2 == 0 && g % 2 == 0));
}
void rows_first_avx512(const float* w, int64_t C, int64_t K, int64_t g, QuantFormat f, ClipMode clip,
                       const Outputs& out, std::vector<Sums>& sums) {
  const int64_t G = (K + g - 1) / g, strips = (C + kStrip - 1) / kStrip;
  const int64_t row_bytes = f.bits == 4 ? K / 2 : K;
  sums.assign(size_t(G * strips), {});
  runtime::parallel_for(G * strips, std::max<int64_t>(1, kChunkValues / (kStrip * g)), [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t r0 = (item / G) * kStrip, j = item % G;
      const int64_t k0 = j * g, n = std::min(g, K - k0), m = std::min(kStrip, C - r0);
      uint8_t* codes = out.codes.bytes + r0 * row_bytes + (f.bits == 4 ? k0 / 2 : k0);
      Sums& s = sums[size_t(item)];
      rtn_tile16_rows_avx512(w + r0 * K + k0, K, n, int(m), f, clip == ClipMode::kMse, out.scales + r0 * G + j, G,
                             codes, row_bytes, &s.num, &s.den);
    }
  });
}

// Stored [K, C], symmetric, with AVX-512: rtn_tile.h quantizes the tiles in place.
void channels_last_avx512(const float* w, int64_t K, int64_t C, int64_t g, QuantFormat f, ClipMode clip,
                          const Outputs& out, std::vector<Sums>& sums) {
  const int64_t G = (K + g - 1) / g, strips = (C + kStrip - 1) / kStrip;
  sums.assign(size_t(G * strips), {});
  runtime::parallel_for(G * strips, std::max<int64_t>(1, kChunkValues / (kStrip * g)), [&](int64_t i0, int64_t i1) {
    float scales[kStrip];
    const int64_t row_bytes = f.bits == 4 ? C / 2 : C;  // C is even for 4 bits
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t j = item / strips, c0 = (item % strips) * kStrip;
      const int64_t k0 = j * g, n = std::min(g, K - k0), m = std::min(kStrip, C - c0);
      uint8_t* codes = out.codes.bytes + (f.bits == 4 ? (k0 * C + c0) / 2 : k0 * C + c0);
      Sums& s = sums[size_t(item)];
      rtn_tile16_avx512(w + k0 * C + c0, C, n, int(m), f, clip == ClipMode::kMse, scales, codes, row_bytes, &s.num, &s.den);
      for (int64_t c = 0; c < m; ++c) out.set_params(j * C + c0 + c, {scales[c], 0});
    }
  });
}

// Stored [K, C] with the clipping search: tiles of one group's rows x kStrip channels,
// transposed in cache so that each channel's group is contiguous, as in the canonical matrix.
void channels_last_tiles(const float* w, int64_t K, int64_t C, int64_t g, QuantFormat f, ClipMode clip,
                         const Outputs& out, std::vector<Sums>& sums) {
  const int64_t G = (K + g - 1) / g, strips = (C + kStrip - 1) / kStrip;
  sums.assign(size_t(G * strips), {});
  runtime::parallel_for(G * strips, std::max<int64_t>(1, kChunkValues / (kStrip * g)), [&](int64_t i0, int64_t i1) {
    std::vector<float> tile(size_t(kStrip * g));
    std::vector<int32_t> codes(size_t(kStrip * g));
    int32_t row_codes[kStrip];
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t j = item / strips, c0 = (item % strips) * kStrip;
      const int64_t k0 = j * g, n = std::min(g, K - k0), m = std::min(kStrip, C - c0);
      for (int64_t k = 0; k < n; ++k) {
        const float* row = w + (k0 + k) * C + c0;
        for (int64_t c = 0; c < m; ++c) tile[size_t(c * n + k)] = row[c];
      }
      for (int64_t c = 0; c < m; ++c) {
        const float* x = tile.data() + c * n;
        const GroupParams p = choose_params(x, n, 1, nullptr, f, clip);
        out.set_params(j * C + c0 + c, p);  // [G, C] blocked, [C] per channel (j = 0)
        const Sums e = quantize_group(x, n, p, f, codes.data() + c * n);
        sums[size_t(item)].add(e.num, e.den);
      }
      for (int64_t k = 0; k < n; ++k) {
        for (int64_t c = 0; c < m; ++c) row_codes[c] = codes[size_t(c * n + k)];
        out.codes.put_span((k0 + k) * C + c0, row_codes, m);
      }
    }
  });
}

// Stored [K, C], INT8 per channel, symmetric, with AVX-512: strips of 64 channels (rtn_tile.h).
void channels_last_int8_avx512(const float* w, int64_t K, int64_t C, QuantFormat f, const Outputs& out,
                               std::vector<Sums>& sums) {
  constexpr int64_t kWidth = 64;
  const int64_t strips = (C + kWidth - 1) / kWidth;
  sums.assign(size_t(strips), {});
  runtime::parallel_for(strips, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t c0 = s * kWidth;
      Sums& e = sums[size_t(s)];
      rtn_strip64_int8_avx512(w + c0, K, C, int(std::min(kWidth, C - c0)), f, out.scales + c0, out.codes.bytes + c0, C,
                              &e.num, &e.den);
    }
  });
}

// Stored [K, C] with min/max: every column's range over each band of g rows (min and max give
// the same result in any order), then each row quantized with all its channels' parameters.
void channels_last_minmax(const float* w, int64_t K, int64_t C, int64_t g, QuantFormat f, const Outputs& out,
                          std::vector<Sums>& sums) {
  const int64_t G = (K + g - 1) / g, chunks = (C + kRangeColumns - 1) / kRangeColumns;
  std::vector<float> inv(size_t(G * C)), scale(size_t(G * C));
  std::vector<int32_t> zp(size_t(G * C));
  runtime::parallel_for(G * chunks, 1, [&](int64_t i0, int64_t i1) {
    float lo[kRangeColumns], hi[kRangeColumns];
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t j = item / chunks, c0 = (item % chunks) * kRangeColumns;
      const int64_t m = std::min(kRangeColumns, C - c0), k0 = j * g, n = std::min(g, K - k0);
      std::fill(lo, lo + m, 0.0f);
      std::fill(hi, hi + m, 0.0f);
      for (int64_t k = k0; k < k0 + n; ++k) {
        const float* row = w + k * C + c0;
        for (int64_t c = 0; c < m; ++c) {  // std::min(lo, v) and std::max(hi, v), as group_range
          lo[c] = row[c] < lo[c] ? row[c] : lo[c];
          hi[c] = hi[c] < row[c] ? row[c] : hi[c];
        }
      }
      for (int64_t c = 0; c < m; ++c) {
        const size_t i = size_t(j * C + c0 + c);
        const GroupParams p = params_from_range(lo[c], hi[c], f, 1.0f);
        out.set_params(int64_t(i), p);
        inv[i] = 1.0f / p.scale, scale[i] = p.scale, zp[i] = p.zero_point;
      }
    }
  });
  sums.assign(size_t(K), {});
  const bool vectorized = f.bits == 8 && clip_search_vectorized();
  runtime::parallel_for(K, std::max<int64_t>(1, kChunkValues / C), [&](int64_t k0, int64_t k1) {
    std::vector<int32_t> codes(static_cast<size_t>(C));
    for (int64_t k = k0; k < k1; ++k) {
      const size_t p = size_t(k / g * C);
      Sums& s = sums[size_t(k)];
      if (vectorized && rtn_row8_avx512(w + k * C, C, inv.data() + p, scale.data() + p, zp.data() + p, f,
                                        out.codes.bytes + k * C, &s.num, &s.den))
        continue;
      const Sums e = quantize_codes<1>(w + k * C, C, inv.data() + p, scale.data() + p, zp.data() + p, f, codes.data());
      sums[size_t(k)].add(e.num, e.den);
      out.codes.put_span(k * C, codes.data(), C);
    }
  });
}

}  // namespace

std::string rtn_stored_blocker(const Layer& target, const Tensor& weight, QuantFormat f) {
  if (weight.dtype() != DType::kF32) return "the weight is not f32";
  if (target.shape.size() != 2 || weight.shape() != target.shape) return "the weight is not a 2-D matrix";
  if (target.channels * target.reduction != weight.numel()) return "the layer does not match the weight";
  if (f.bits == 4 && target.column_major() && target.channels % 2 != 0)
    return "4-bit codes of an odd number of channels stored last share bytes across rows";
  return "";
}

StoredRtn quantize_rtn_stored(const Layer& target, const Tensor& weight, int64_t group, QuantFormat f, ClipMode clip) {
  const int64_t C = target.channels, K = target.reduction;
  const int64_t g = group > 0 ? std::min(group, K) : K, G = (K + g - 1) / g;
  const DType dtype = code_dtype(f);
  const Shape param_shape = qdq_param_shape(target, C, G, g < K);
  StoredRtn result;
  QdqTensors& t = result.tensors;
  t.group = g;
  t.format = f;
  t.codes = Tensor::fresh_zeros(dtype, target.shape);
  t.scales = Tensor::fresh_zeros(DType::kF32, param_shape);
  Outputs out;
  out.codes = {t.codes.mutable_data<uint8_t>(), f.bits};
  out.scales = t.scales.mutable_data<float>();
  if (!f.symmetric) {
    t.zero_points = Tensor::fresh_zeros(dtype, param_shape);
    out.zero_points = {t.zero_points.mutable_data<uint8_t>(), f.bits};
  }
  const float* w = weight.data<float>();
  std::vector<Sums> sums;
  if (!target.column_major() && rows_first_tiles_apply(K, g, f)) rows_first_avx512(w, C, K, g, f, clip, out, sums);
  else if (!target.column_major()) rows_first(w, C, K, g, f, clip, out, sums);
  else if (clip == ClipMode::kNone && g == K && f.bits == 8 && f.symmetric && clip_search_vectorized())
    channels_last_int8_avx512(w, K, C, f, out, sums);
  else if (clip == ClipMode::kNone) channels_last_minmax(w, K, C, g, f, out, sums);
  else if (f.symmetric && clip_search_vectorized()) channels_last_avx512(w, K, C, g, f, clip, out, sums);
  else channels_last_tiles(w, K, C, g, f, clip, out, sums);
  Sums total;
  for (const Sums& s : sums) total.add(s.num, s.den);
  result.error = total.den > 0 ? std::sqrt(total.num / total.den) : 0.0;
  return result;
}

}  // namespace ember::passes::quant

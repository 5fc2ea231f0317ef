// One tile of rtn_stored.h's [K, C] path with AVX-512: 16 channels of a weight stored [K, C]
// (one channel per lane, rows read in place, no transpose) and one group of n reduction rows.
// Symmetric formats only. The parameters are choose_params' on each channel's group: the
// min/max scale, or with the clipping search the same candidates, each candidate's error
// summed in the order group_errors_avx512 sums a contiguous group (lane k mod 16 of its
// accumulator, then its reduction tree), so the same choice, bit for bit; candidates that
// provably cannot win are skipped (clip_tile.h, clip_tile_avx512.cc say why that is exact). Then the
// codes of quantize_value.
#pragma once
#include <cstdint>

#include "passes/quantize/quant_math.h"

namespace ember::passes::quant {

// w: the tile's first element, rows `stride` floats apart; lanes <= 16 channels are real.
// Writes scales[0, lanes) and each row's codes into the stored layout at codes + k *
// code_stride (bytes: one per code, or nibble pairs for 4 bits, lanes even); adds the tile's
// squared error and squared sum to *num and *den. Precondition: f.symmetric and
// clip_search_vectorized().
void rtn_tile16_avx512(const float* w, int64_t stride, int64_t n, int lanes, QuantFormat f, bool search, float* scales,
                       uint8_t* codes, int64_t code_stride, double* num, double* den);

// The same for 16 channels of a weight stored [C, K]: lane c's group is the n contiguous floats
// at w + c * stride (read in blocks of 16, transposed in registers, so each candidate's error
// is the same sum as for the [K, C] tile). Writes scales[c * scale_stride] and lane c's codes
// at codes + c * code_stride (bytes, or nibble pairs for 4 bits: n even and the group starting
// on a byte).
void rtn_tile16_rows_avx512(const float* w, int64_t stride, int64_t n, int lanes, QuantFormat f, bool search,
                            float* scales, int64_t scale_stride, uint8_t* codes, int64_t code_stride, double* num,
                            double* den);

// INT8 per channel, symmetric, for up to 64 channels of a weight stored [K, C]: the range of
// each channel over all K rows (w: the strip's first element, rows `stride` floats apart),
// scales[c] as params_from_range gives it, codes (bytes) at codes + k * code_stride, the
// strip's squared error and squared sum added to *num and *den (rtn_strip_avx512.cc).
void rtn_strip64_int8_avx512(const float* w, int64_t K, int64_t stride, int lanes, QuantFormat f, float* scales,
                             uint8_t* codes, int64_t code_stride, double* num, double* den);

// One row of an 8-bit [K, C] weight with per-channel parameters (rtn_stored.h's min/max path):
// out[c] = the byte of quantize_value(x[c], inv[c], zp[c], qmin, qmax) for c < n, and the
// row's squared error and squared sum added to *num and *den. Returns false, writing nothing,
// when some |x * inv| is not below 2^22 (NaN, infinity): the caller then uses quantize_value.
bool rtn_row8_avx512(const float* x, int64_t n, const float* inv, const float* scale, const int32_t* zp, QuantFormat f,
                     uint8_t* out, double* num, double* den);

// For tests of clip_tile_avx512.cc: over every significand of 2^exponent, the number of values
// x where its division-free x / qmax (for x above 1e-30) or 1 / x differs from the division.
// Precondition: clip_search_vectorized().
int64_t clip_division_mismatches(int exponent, int qmax);

}  // namespace ember::passes::quant

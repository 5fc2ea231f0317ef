// Weight quantization arithmetic shared by RTN, GPTQ and AWQ.
// A weight is handled in a canonical layout: a row-major matrix [rows, cols] where a row is
// one output channel and cols run along the reduction dimension. Groups ("blocks") of
// `group` consecutive columns of a row share one scale and zero point; group == cols is
// per-channel quantization.
//   symmetric:  w ~ q * scale,                 q in [-2^(b-1), 2^(b-1) - 1]   (int8 / int4)
//   asymmetric: w ~ (q - zero_point) * scale,  q in [0, 2^b - 1]               (uint8 / uint4)
// The asymmetric range always includes 0 so the zero point is an integer inside the range.
// Clipping search ("mse"): the range is shrunk by factors c in (min, 1] and the c with the
// least squared error is kept; c = 1 (plain min/max) is a candidate, so the search never does
// worse than min/max. It changes only the stored scales, so inference costs nothing more.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::passes::quant {

struct QuantFormat {
  int bits = 8;           // 4 or 8
  bool symmetric = true;  // signed codes without zero point; else unsigned codes + zero point
  int32_t qmin() const { return symmetric ? -(1 << (bits - 1)) : 0; }
  int32_t qmax() const { return symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }
  std::string text() const;  // "int4 sym", "uint8 asym", ...
};

enum class ClipMode { kNone, kMse };

struct GroupParams {
  float scale = 1.0f;
  int32_t zero_point = 0;  // 0 when symmetric
};

// Round half to even (banker's rounding), the rounding of ONNX QuantizeLinear. Inline: it
// sits in the innermost loops of the clipping search and GPTQ.
float round_half_even_slow(float x);
inline float round_half_even(float x) {
  // Below 2^22 adding 1.5 * 2^23 leaves no fraction bits, so the float addition itself rounds
  // to nearest even (the default mode); no libm call, and the loop vectorises.
  constexpr float kMagic = 12582912.0f, kLimit = 4194304.0f;
  if (x > -kLimit && x < kLimit) {
    const float shifted = x + kMagic;
    return shifted - kMagic;
  }
  return round_half_even_slow(x);
}

// The integer code of x: clamp(round_half_even(x / scale) + zero_point, qmin, qmax).
inline int32_t quantize_value(float x, float inv_scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const int32_t q = static_cast<int32_t>(round_half_even(x * inv_scale)) + zero_point;
  return q < qmin ? qmin : (q > qmax ? qmax : q);
}

// Parameters of a group whose range, widened to include 0, is [lo, hi], shrunk by `clip`.
GroupParams params_from_range(float lo, float hi, QuantFormat f, float clip);
// Min/max parameters of n values (stride apart), with the range shrunk by `clip` in (0, 1].
GroupParams minmax_params(const float* x, int64_t n, int64_t stride, QuantFormat f, float clip = 1.0f);
// Sum over the values of weight[i] * (x[i] - dequant(quant(x[i])))^2; weight may be null (all 1).
double group_error(const float* x, int64_t n, int64_t stride, const float* weight, GroupParams p, QuantFormat f);
// Parameters for one group: min/max, or the best clipping factor by (weighted) squared error.
GroupParams choose_params(const float* x, int64_t n, int64_t stride, const float* weight, QuantFormat f, ClipMode clip);

// A quantized matrix in the canonical layout.
struct QuantizedMatrix {
  int64_t rows = 0, cols = 0;
  int64_t group = 0;  // columns per group (== cols for per-channel)
  QuantFormat format;
  std::vector<int32_t> codes;         // rows * cols
  std::vector<float> scales;          // rows * groups()
  std::vector<int32_t> zero_points;   // rows * groups(); zeros when symmetric
  int64_t groups() const { return (cols + group - 1) / group; }
  float value(int64_t r, int64_t c) const {
    const size_t g = static_cast<size_t>(r * groups() + c / group);
    return static_cast<float>(codes[static_cast<size_t>(r * cols + c)] - zero_points[g]) * scales[g];
  }
  std::vector<float> dequantize() const;  // rows * cols floats
};

// Empty matrix of the given geometry, ready to be filled group by group.
QuantizedMatrix make_quantized_matrix(int64_t rows, int64_t cols, int64_t group, QuantFormat f);
// Fills the codes of columns [c0, c0+n) of row r from w (those columns) with parameters p.
void quantize_span(QuantizedMatrix& q, int64_t r, int64_t c0, int64_t n, const float* w, GroupParams p);

// Round-to-nearest quantization of w [rows, cols]. `col_weight` (cols, may be null) weighs the
// clipping error per column, e.g. by the mean squared activation of that input channel.
QuantizedMatrix quantize_rtn(const float* w, int64_t rows, int64_t cols, int64_t group, QuantFormat f, ClipMode clip,
                             const float* col_weight = nullptr);

// ||w - dequant(q)|| / ||w|| (0 when w is all zeros).
double relative_error(const float* w, const QuantizedMatrix& q);

// Packs 4-bit codes two per byte, element 2i in the low nibble of byte i, 2i+1 in the high
// nibble (the ONNX INT4/UINT4 layout). Codes are stored as their low 4 bits (two's
// complement for signed). `out` holds (n + 1) / 2 bytes; an odd tail's high nibble is 0.
void pack_int4(const int32_t* codes, int64_t n, uint8_t* out);
// The inverse, for tests and checks: signed reads nibbles as two's complement.
std::vector<int32_t> unpack_int4(const uint8_t* packed, int64_t n, bool is_signed);

}  // namespace ember::passes::quant

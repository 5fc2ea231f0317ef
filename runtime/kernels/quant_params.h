// Quantization parameters (scale, zero point) of QuantizeLinear / DequantizeLinear and where
// they apply in the data tensor: one value for the whole tensor, one per index of an axis
// (opset 13), or one per block of `block_size` consecutive indices along an axis (opset 21,
// scale shape = data shape with the axis dimension divided by block_size, rounded up).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime {

enum class QuantGranularity { kPerTensor, kPerAxis, kBlocked };

struct QuantLayout {
  QuantGranularity granularity = QuantGranularity::kPerTensor;
  // The data tensor viewed as [outer, axis_dim, inner].
  int64_t outer = 1, axis_dim = 1, inner = 1;
  int64_t block_size = 1;
  int64_t blocks = 1;  // ceil(axis_dim / block_size) when blocked
};

// Checks the scale shape against the data shape and returns the layout. `axis` is the raw
// attribute (may be negative); `block_size` 0 means not blocked.
Result<QuantLayout> resolve_quant_layout(const Shape& data, const Shape& scale, int64_t axis, int64_t block_size,
                                         const std::string& where);

// Visits elements [begin, end) of the data tensor in order: f(element_index, param_index).
template <class F>
void for_each_quant_element(const QuantLayout& layout, int64_t begin, int64_t end, F&& f) {
  if (layout.granularity == QuantGranularity::kPerTensor) {
    for (int64_t e = begin; e < end; ++e) f(e, int64_t{0});
    return;
  }
  int64_t i = begin % layout.inner;
  int64_t d = (begin / layout.inner) % layout.axis_dim;
  int64_t o = begin / (layout.inner * layout.axis_dim);
  for (int64_t e = begin; e < end;) {
    const int64_t run = std::min(layout.inner - i, end - e);
    if (layout.granularity == QuantGranularity::kPerAxis) {
      for (int64_t j = 0; j < run; ++j) f(e + j, d);
    } else {
      const int64_t base = (o * layout.blocks + d / layout.block_size) * layout.inner + i;
      for (int64_t j = 0; j < run; ++j) f(e + j, base + j);
    }
    e += run;
    i = 0;
    if (++d == layout.axis_dim) {
      d = 0;
      ++o;
    }
  }
}

// Reads a float-like tensor (f32, f16, bf16) as floats; `what` names the input in errors.
Result<std::vector<float>> read_float_params(const Tensor& t, const std::string& where, const std::string& what);

// Reads an integer quantized tensor (i8, u8, i16, u16, i32, i4, u4) as int32 values.
Result<std::vector<int32_t>> read_int_params(const Tensor& t, const std::string& where, const std::string& what);

// DynamicQuantizeLinear's uint8 parameters for x: the range [min(x), max(x)] widened to
// include 0 maps onto [0, 255]; the scale is 1 when x is all zeros.
struct DynamicQuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
DynamicQuantParams dynamic_uint8_params(const float* x, int64_t n);
// y[i] = saturate(round_half_even(x[i] / scale) + zero_point), multi-threaded.
void quantize_uint8(const float* x, int64_t n, DynamicQuantParams p, uint8_t* y);

// True for the dtypes a scale may have.
inline bool is_scale_dtype(DType d) { return d == DType::kF32 || d == DType::kF16 || d == DType::kBF16; }

// Writes a float as f32, f16 or bf16 at out[i].
inline void store_float_as(DType dtype, void* out, int64_t i, float value) {
  if (dtype == DType::kF32)
    static_cast<float*>(out)[i] = value;
  else if (dtype == DType::kF16)
    static_cast<uint16_t*>(out)[i] = float_to_half(value);
  else
    static_cast<uint16_t*>(out)[i] = float_to_bfloat16(value);
}

}  // namespace ember::runtime

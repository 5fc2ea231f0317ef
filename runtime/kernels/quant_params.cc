#include "runtime/kernels/quant_params.h"

#include <algorithm>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/parallel.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime {

Result<QuantLayout> resolve_quant_layout(const Shape& data, const Shape& scale, int64_t axis, int64_t block_size,
                                         const std::string& where) {
  QuantLayout layout;
  const int rank = static_cast<int>(data.size());
  const int64_t scale_count = shape_numel(scale);
  if (block_size < 0) return invalid_input(where + ": block_size must not be negative, got " + std::to_string(block_size));
  if (block_size == 0 && scale_count == 1 && scale.size() <= 1) return layout;  // per tensor

  if (rank == 0)
    return invalid_input(where + ": scale of shape " + shape_to_string(scale) + " needs a tensor of rank >= 1, got a scalar");
  EMBER_ASSIGN_OR_RETURN(const int a, normalize_axis(axis, rank, where));
  const size_t ua = static_cast<size_t>(a);
  for (int j = 0; j < a; ++j) layout.outer *= data[size_t(j)];
  for (int j = a + 1; j < rank; ++j) layout.inner *= data[size_t(j)];
  layout.axis_dim = data[ua];

  if (block_size == 0) {
    if (scale.size() != 1 || scale[0] != data[ua])
      return invalid_input(where + ": per-axis scale must have shape [" + std::to_string(data[ua]) + "] (axis " +
                           std::to_string(a) + " of input " + shape_to_string(data) + "), got " + shape_to_string(scale));
    layout.granularity = QuantGranularity::kPerAxis;
    return layout;
  }

  Shape expected = data;
  expected[ua] = (data[ua] + block_size - 1) / block_size;
  if (scale != expected)
    return invalid_input(where + ": blocked scale must have shape " + shape_to_string(expected) + " (input " +
                         shape_to_string(data) + ", axis " + std::to_string(a) + ", block_size " +
                         std::to_string(block_size) + "), got " + shape_to_string(scale));
  layout.granularity = QuantGranularity::kBlocked;
  layout.block_size = block_size;
  layout.blocks = expected[ua];
  return layout;
}

Result<std::vector<float>> read_float_params(const Tensor& t, const std::string& where, const std::string& what) {
  if (!is_scale_dtype(t.dtype()))
    return invalid_input(where + ": " + what + " must be f32, f16 or bf16, got " + std::string(dtype_name(t.dtype())));
  return t.to_floats();
}

Result<std::vector<int32_t>> read_int_params(const Tensor& t, const std::string& where, const std::string& what) {
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  const bool known = dispatch_quant_dtype(t.dtype(), true, [&](auto tag) {
    using S = QuantStorage<decltype(tag)>;
    for (size_t i = 0; i < out.size(); ++i) out[i] = S::load(t.raw(), static_cast<int64_t>(i));
  });
  if (!known) return invalid_input(where + ": " + what + " has unsupported element type " + std::string(dtype_name(t.dtype())));
  return out;
}

namespace {
constexpr int64_t kMinChunk = 1 << 14;
}

DynamicQuantParams dynamic_uint8_params(const float* x, int64_t n) {
  // Per-segment partial ranges, so the result does not depend on the thread count.
  constexpr int64_t kSegments = 64;
  float seg_lo[kSegments], seg_hi[kSegments];
  const int64_t segments = std::clamp<int64_t>(n / kMinChunk, 1, kSegments);
  parallel_for(segments, 1, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s) {
      const int64_t begin = n * s / segments;
      vmath::range_with_zero(x + begin, n * (s + 1) / segments - begin, &seg_lo[s], &seg_hi[s]);
    }
  });
  const float lo = *std::min_element(seg_lo, seg_lo + segments);
  const float hi = *std::max_element(seg_hi, seg_hi + segments);
  DynamicQuantParams p;
  p.scale = lo == hi ? 1.0f : (hi - lo) / 255.0f;
  const float initial_zero_point = 0.0f - lo / p.scale;
  p.zero_point = quantize_value(std::clamp(initial_zero_point, 0.0f, 255.0f), 0, 0, 255);
  return p;
}

void quantize_uint8(const float* x, int64_t n, DynamicQuantParams p, uint8_t* y) {
  parallel_for(n, kMinChunk, [&](int64_t begin, int64_t end) {
    vmath::quantize_u8(x + begin, end - begin, p.scale, p.zero_point, 0, 255, 0, y + begin);
  });
}

}  // namespace ember::runtime

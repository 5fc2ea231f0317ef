#include "runtime/kernels/kernel_util.h"

#include <algorithm>

#include "runtime/parallel.h"

namespace ember::runtime {

Result<int> normalize_axis(int64_t axis, int rank, const std::string& where) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max(rank, 1))
    return invalid_input(where + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(a);
}

Result<Shape> broadcast_shapes(const std::vector<Shape>& shapes, const std::string& where) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const auto& s : shapes) {
    const size_t offset = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[offset + i];
      const int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string list;
      for (const auto& x : shapes) list += (list.empty() ? "" : " and ") + shape_to_string(x);
      return invalid_input(where + ": shapes " + list + " cannot be broadcast together");
    }
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out_shape) {
  std::vector<int64_t> strides(out_shape.size(), 0);
  const size_t offset = out_shape.size() - shape.size();
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[offset + i] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

void for_each_batch(int64_t batches, int64_t fma_per_batch, const std::function<void(int64_t)>& fn) {
  constexpr int64_t kMinFmaPerThread = int64_t{1} << 20;  // below this, another thread costs more
  parallel_for(batches, std::max<int64_t>(1, kMinFmaPerThread / std::max<int64_t>(1, fma_per_batch)),
               [&](int64_t b0, int64_t b1) {
                 for (int64_t batch = b0; batch < b1; ++batch) fn(batch);
               });
}

Result<std::vector<int64_t>> read_int_list(const RunContext& ctx, size_t input_index) {
  if (!ctx.has_input(input_index)) return std::vector<int64_t>{};
  auto values = ctx.input(input_index).to_int64s();
  if (!values.ok()) return values.status().with_context(ctx.where() + " input " + std::to_string(input_index));
  return values;
}

Status unsupported_dtype(const RunContext& ctx, DType dtype) {
  return unsupported(ctx.where() + ": element type " + std::string(dtype_name(dtype)) + " is not supported");
}

}  // namespace ember::runtime

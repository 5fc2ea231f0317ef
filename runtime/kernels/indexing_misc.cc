// OneHot, Trilu and NonZero: index-driven ops that produce or mask whole tensors.
#include <algorithm>
#include <cmath>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime {
namespace {

// OneHot accepts indices and depth of any numeric type; non-integers are truncated.
Result<std::vector<int64_t>> read_numeric_as_int64(const RunContext& ctx, size_t index) {
  const Tensor& t = ctx.input(index);
  if (traits(t.dtype()).is_integer) {
    auto values = t.to_int64s();
    if (!values.ok()) return values.status().with_context(ctx.where() + " input " + std::to_string(index));
    return values;
  }
  auto floats = t.to_floats();
  if (!floats.ok()) return floats.status().with_context(ctx.where() + " input " + std::to_string(index));
  std::vector<int64_t> out;
  out.reserve(floats->size());
  for (float f : *floats) out.push_back(static_cast<int64_t>(std::trunc(f)));
  return out;
}

}  // namespace

Status run_one_hot(RunContext& ctx) {
  const Tensor& index_tensor = ctx.input(0);
  const Tensor& values = ctx.input(2);
  if (values.numel() != 2)
    return invalid_input(ctx.where() + ": values must hold [off_value, on_value], it has " +
                         std::to_string(values.numel()) + " elements");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> depth_values, read_numeric_as_int64(ctx, 1));
  if (depth_values.size() != 1 || depth_values[0] < 1)
    return invalid_input(ctx.where() + ": depth must be one positive number");
  const int64_t depth = depth_values[0];
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> indices, read_numeric_as_int64(ctx, 0));
  EMBER_ASSIGN_OR_RETURN(std::vector<int> axes,
                         normalize_axes({ctx.node.attr_int("axis", -1)}, index_tensor.rank() + 1, ctx.where()));
  const size_t axis = size_t(axes[0]);
  Shape out_shape = index_tensor.shape();
  out_shape.insert(out_shape.begin() + std::ptrdiff_t(axis), depth);
  const int64_t outer = product(index_tensor.shape(), 0, axis);
  const int64_t inner = product(index_tensor.shape(), axis, index_tensor.shape().size());
  const bool known = dispatch_storage(values.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T off = elements<T>(values)[0];
    const T on = elements<T>(values)[1];
    T* out = allocate_elements<T>(ctx, 0, values.dtype(), out_shape);
    std::fill_n(out, shape_numel(out_shape), off);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t hot = indices[size_t(o * inner + i)];
        if (hot < 0) hot += depth;
        if (hot >= 0 && hot < depth) out[(o * depth + hot) * inner + i] = on;  // out of range: all off
      }
  });
  if (!known) return unsupported_dtype(ctx, values.dtype());
  return Status::Ok();
}

Status run_trilu(RunContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (in.rank() < 2)
    return invalid_input(ctx.where() + ": input " + shape_to_string(in.shape()) + " needs rank >= 2");
  int64_t k = 0;
  if (ctx.has_input(1)) {
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> given, read_indices(ctx, 1));
    if (given.size() != 1) return invalid_input(ctx.where() + ": k must be a scalar");
    k = given[0];
  }
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  const int64_t rows = in.dim(in.rank() - 2);
  const int64_t cols = in.dim(in.rank() - 1);
  const int64_t matrices = rows > 0 && cols > 0 ? in.numel() / (rows * cols) : 0;
  const bool known = dispatch_storage(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = elements<T>(in);
    T* out = allocate_elements<T>(ctx, 0, in.dtype(), in.shape());
    parallel_for(matrices * rows, std::max<int64_t>(1, kCopyGrainElements / std::max<int64_t>(cols, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t row = begin; row < end; ++row) {
                     const int64_t i = row % rows;
                     for (int64_t j = 0; j < cols; ++j) {
                       const bool keep = upper ? j - i >= k : j - i <= k;
                       out[row * cols + j] = keep ? src[row * cols + j] : T{};
                     }
                   }
                 });
  });
  if (!known) return unsupported_dtype(ctx, in.dtype());
  return Status::Ok();
}

Status run_non_zero(RunContext& ctx) {
  const Tensor& in = ctx.input(0);
  std::vector<int64_t> positions;  // flat indices of non-zero elements, in row-major order
  const int64_t n = in.numel();
  if (in.dtype() == DType::kString) {
    for (int64_t i = 0; i < n; ++i)
      if (!in.string_values()[size_t(i)].empty()) positions.push_back(i);
  } else {
    const bool known = dispatch_arithmetic(in.dtype(), [&](auto arith) {
      using A = decltype(arith);
      const auto* data = in.data<typename A::Storage>();
      for (int64_t i = 0; i < n; ++i)
        if (A::load(data[i]) != typename A::Compute(0)) positions.push_back(i);
    });
    if (!known) return unsupported_dtype(ctx, in.dtype());
  }
  const auto count = static_cast<int64_t>(positions.size());
  const size_t rank = in.shape().size();
  int64_t* out = ctx.allocate_output(0, DType::kI64, {int64_t(rank), count}).mutable_data<int64_t>();
  const std::vector<int64_t> strides = contiguous_strides(in.shape());
  for (int64_t c = 0; c < count; ++c) {
    int64_t rest = positions[size_t(c)];
    for (size_t d = 0; d < rank; ++d) {
      out[int64_t(d) * count + c] = rest / strides[d];
      rest %= strides[d];
    }
  }
  return Status::Ok();
}

}  // namespace ember::runtime

// ScatterElements (and its deprecated alias Scatter) and ScatterND: the output starts as a
// copy of data, then updates are written in index order, combined with the existing value
// when a reduction is set (add/mul from opset 16, max/min from opset 18). Writes run in
// order on one thread because indices may repeat.
#include <algorithm>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"

namespace ember::runtime {
namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Result<Reduction> read_reduction(const RunContext& ctx) {
  const std::string name = ctx.node.attr_string("reduction", "none");
  if (name == "none") return Reduction::kNone;
  if (name == "add") return Reduction::kAdd;
  if (name == "mul") return Reduction::kMul;
  if (name == "max") return Reduction::kMax;
  if (name == "min") return Reduction::kMin;
  return invalid_input(ctx.where() + ": unknown reduction '" + name + "'");
}

template <class C>
C combine(Reduction reduction, C current, C update) {
  switch (reduction) {
    case Reduction::kAdd: return static_cast<C>(current + update);
    case Reduction::kMul: return static_cast<C>(current * update);
    case Reduction::kMax: return std::max(current, update);
    case Reduction::kMin: return std::min(current, update);
    case Reduction::kNone: break;
  }
  return update;
}

// Output = data with updates[j * slice .. +slice) written at offsets[j].
Status scatter(RunContext& ctx, const std::vector<int64_t>& offsets, int64_t slice) {
  const Tensor& data = ctx.input(0);
  const Tensor& updates = ctx.input(2);
  if (updates.dtype() != data.dtype())
    return invalid_input(ctx.where() + ": updates are " + std::string(dtype_name(updates.dtype())) + ", data is " +
                         std::string(dtype_name(data.dtype())));
  EMBER_ASSIGN_OR_RETURN(Reduction reduction, read_reduction(ctx));
  if (reduction == Reduction::kNone) {
    const bool known = dispatch_storage(data.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* out = allocate_elements<T>(ctx, 0, data.dtype(), data.shape());
      std::copy_n(elements<T>(data), data.numel(), out);
      const T* src = elements<T>(updates);
      for (size_t j = 0; j < offsets.size(); ++j)
        std::copy_n(src + int64_t(j) * slice, slice, out + offsets[j]);
    });
    if (!known) return unsupported_dtype(ctx, data.dtype());
    return Status::Ok();
  }
  const bool known = dispatch_arithmetic(data.dtype(), [&](auto arith) {
    using A = decltype(arith);
    using S = typename A::Storage;
    S* out = ctx.allocate_output(0, data.dtype(), data.shape()).template mutable_data<S>();
    std::copy_n(data.data<S>(), data.numel(), out);
    const S* src = updates.data<S>();
    for (size_t j = 0; j < offsets.size(); ++j)
      for (int64_t i = 0; i < slice; ++i) {
        S& target = out[offsets[j] + i];
        target = A::store(combine(reduction, A::load(target), A::load(src[int64_t(j) * slice + i])));
      }
  });
  if (!known) return unsupported_dtype(ctx, data.dtype());
  return Status::Ok();
}

Status scatter_elements(RunContext& ctx) {
  const Tensor& data = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int> axes, normalize_axes({ctx.node.attr_int("axis", 0)}, data.rank(), ctx.where()));
  if (ctx.input(2).shape() != ctx.input(1).shape())
    return invalid_input(ctx.where() + ": updates " + shape_to_string(ctx.input(2).shape()) +
                         " must have the shape of indices " + shape_to_string(ctx.input(1).shape()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, element_offsets(ctx, data, ctx.input(1), axes[0]));
  return scatter(ctx, offsets, 1);
}

Status scatter_nd(RunContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  EMBER_ASSIGN_OR_RETURN(SliceOffsets slices, slice_offsets(ctx, data, indices, 0));
  Shape expected(indices.shape().begin(), indices.shape().end() - 1);
  expected.insert(expected.end(), slices.slice_shape.begin(), slices.slice_shape.end());
  if (ctx.input(2).shape() != expected)
    return invalid_input(ctx.where() + ": updates " + shape_to_string(ctx.input(2).shape()) + " should be " +
                         shape_to_string(expected));
  return scatter(ctx, slices.offsets, slices.slice);
}

// Packed 4-bit data can be scattered after unpacking, but not reduced: the unpacked bytes
// are raw nibbles, not values.
Status run_scatter(RunContext& ctx, RunFunction body) {
  EMBER_ASSIGN_OR_RETURN(Reduction reduction, read_reduction(ctx));
  if (ctx.num_inputs() < 3 || !ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2))
    return invalid_input(ctx.where() + ": data, indices and updates are required");
  if (is_packed_nibbles(ctx.input(0).dtype()) && reduction != Reduction::kNone)
    return unsupported(ctx.where() + ": reductions on " + std::string(dtype_name(ctx.input(0).dtype())) + " data");
  return run_with_nibbles_unpacked(ctx, body);
}

}  // namespace

Status run_scatter_elements(RunContext& ctx) { return run_scatter(ctx, scatter_elements); }
Status run_scatter_nd(RunContext& ctx) { return run_scatter(ctx, scatter_nd); }

}  // namespace ember::runtime

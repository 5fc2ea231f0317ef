// Backward rules of the indexing family.
//   Gather(data, indices, axis): Y[o, j, i] = data[o, indices[j], i], so the gradient is a
//   scatter-add: d data[o, indices[j], i] += dY[o, j, i] (embedding rows used twice add up).
#include <cstring>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/shape_common.h"

namespace ember::runtime::grad {
namespace {

GradNeeds gather_needs(const ir::Node&, IndexMask) { return {bit(1), 0}; }

Status gather_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& data_shape = ctx.input_shapes[0];
  const int rank = static_cast<int>(data_shape.size());
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", 0), rank, ctx.where()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> indices, read_int_input(ctx, 1));
  const int64_t dim = data_shape[static_cast<size_t>(axis)];
  const int64_t outer = product(data_shape, 0, static_cast<size_t>(axis));
  const int64_t inner = product(data_shape, static_cast<size_t>(axis) + 1, data_shape.size());
  const int64_t count = static_cast<int64_t>(indices.size());
  for (int64_t& index : indices) {
    EMBER_ASSIGN_OR_RETURN(index, wrap_index(index, dim, ctx.where()));
  }
  Tensor dx = ctx.zeros(data_shape);
  float* out = dx.mutable_data<float>();
  const float* g = ctx.output_grad(0).data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < count; ++j) {
      float* dst = out + (o * dim + indices[static_cast<size_t>(j)]) * inner;
      const float* src = g + (o * count + j) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_indexing_grads(GradRegistry& r) {
  r.add("Gather", bit(0), gather_needs, gather_backward);
}

}  // namespace ember::runtime::grad

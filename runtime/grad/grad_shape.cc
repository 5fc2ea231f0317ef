// Backward rules of the shape family: ops that only move elements, so the gradient moves back.
//   Reshape, Flatten, Squeeze, Unsqueeze, Dropout (inference): dy viewed with X's
//   shape (no copy)
//   Transpose(perm): dy transposed by the inverse permutation
//   Split: the output gradients concatenated (zeros for outputs no gradient reaches)
//   Concat: each input's slab of dy          Slice: dy scattered into zeros of X's shape
//   Expand: dy summed over the broadcast axes
#include <cstring>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime::grad {
namespace {

Status view_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  ctx.input_grads[0] = ctx.output_grad(0).reshaped(ctx.input_shapes[0]);
  return Status::Ok();
}

Status transpose_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& x_shape = ctx.input_shapes[0];
  const size_t rank = x_shape.size();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty())
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  if (perm.size() != rank) return invalid_input(ctx.where() + ": perm does not match the input rank");
  // Y dim i is X dim perm[i]: X dim perm[i] walks dY with dY's stride of dim i.
  const std::vector<int64_t> y_strides = contiguous_strides(ctx.output_shapes[0]);
  std::vector<int64_t> src_strides(rank, 0);
  for (size_t i = 0; i < rank; ++i) src_strides[static_cast<size_t>(perm[i])] = y_strides[i];
  Tensor dx = ctx.allocate(x_shape);
  copy_strided(ctx.output_grad(0).data<float>(), dx.mutable_data<float>(), x_shape, src_strides);
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

// The slabs of a concatenation along `axis`: outer rows, each piece's width in elements.
struct Slabs {
  int64_t outer = 1, inner = 1;
};

Slabs slabs(const Shape& shape, int axis) {
  return {product(shape, 0, static_cast<size_t>(axis)), product(shape, static_cast<size_t>(axis) + 1, shape.size())};
}

Status split_backward(BackwardContext& ctx) {
  if (!ctx.wants(0)) return Status::Ok();
  const Shape& x_shape = ctx.input_shapes[0];
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", 0), static_cast<int>(x_shape.size()), ctx.where()));
  const Slabs s = slabs(x_shape, axis);
  const int64_t x_width = x_shape[static_cast<size_t>(axis)] * s.inner;
  Tensor dx = ctx.zeros(x_shape);  // outputs without a gradient contribute zeros
  float* out = dx.mutable_data<float>();
  int64_t offset = 0;
  for (size_t j = 0; j < ctx.output_shapes.size(); ++j) {
    const Shape& ys = ctx.output_shapes[j];
    if (ys.empty()) continue;  // an omitted output
    const int64_t width = ys[static_cast<size_t>(axis)] * s.inner;
    if (ctx.has_output_grad(j)) {
      const float* g = ctx.output_grad(j).data<float>();
      for (int64_t o = 0; o < s.outer; ++o) std::memcpy(out + o * x_width + offset, g + o * width, sizeof(float) * size_t(width));
    }
    offset += width;
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status concat_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Shape& y_shape = ctx.output_shapes[0];
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", 0), static_cast<int>(y_shape.size()), ctx.where()));
  const Slabs s = slabs(y_shape, axis);
  const int64_t y_width = y_shape[static_cast<size_t>(axis)] * s.inner;
  const float* g = ctx.output_grad(0).data<float>();
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.input_shapes.size(); ++i) {
    const Shape& xs = ctx.input_shapes[i];
    if (xs.empty()) continue;
    const int64_t width = xs[static_cast<size_t>(axis)] * s.inner;
    if (ctx.wants(i)) {
      Tensor dx = ctx.allocate(xs);
      float* out = dx.mutable_data<float>();
      for (int64_t o = 0; o < s.outer; ++o) std::memcpy(out + o * width, g + o * y_width + offset, sizeof(float) * size_t(width));
      ctx.input_grads[i] = std::move(dx);
    }
    offset += width;
  }
  return Status::Ok();
}

GradNeeds slice_needs(const ir::Node&, IndexMask) { return {bit(1) | bit(2) | bit(3) | bit(4), 0}; }

// Per-axis first index and step of a Slice, resolved like the forward kernel (ONNX clamping).
Status slice_geometry(const BackwardContext& ctx, std::vector<int64_t>& first, std::vector<int64_t>& step) {
  const Shape& x = ctx.input_shapes[0];
  const int rank = static_cast<int>(x.size());
  std::vector<int64_t> starts, axes, steps;
  if (ctx.opset < 10) {
    starts = ctx.node.attr_ints("starts");
    axes = ctx.node.attr_ints("axes");
  } else {
    EMBER_ASSIGN_OR_RETURN(starts, read_int_input(ctx, 1));
    EMBER_ASSIGN_OR_RETURN(axes, read_int_input(ctx, 3));
    EMBER_ASSIGN_OR_RETURN(steps, read_int_input(ctx, 4));
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    return invalid_input(ctx.where() + ": starts, axes and steps differ in length");
  first.assign(x.size(), 0);
  step.assign(x.size(), 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    EMBER_ASSIGN_OR_RETURN(int a, normalize_axis(axes[i], rank, ctx.where()));
    const int64_t d = x[static_cast<size_t>(a)];
    int64_t s = starts[i] < 0 ? starts[i] + d : starts[i];
    if (steps[i] > 0) s = std::clamp<int64_t>(s, 0, d);
    else s = std::clamp<int64_t>(s, 0, std::max<int64_t>(d - 1, 0));
    first[static_cast<size_t>(a)] = s;
    step[static_cast<size_t>(a)] = steps[i];
  }
  return Status::Ok();
}

Status slice_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  std::vector<int64_t> first, step;
  EMBER_TRY(slice_geometry(ctx, first, step));
  const Shape& x_shape = ctx.input_shapes[0];
  const Shape& y_shape = ctx.output_shapes[0];
  Tensor dx = ctx.zeros(x_shape);
  const int64_t total = shape_numel(y_shape);
  if (total > 0) {
    const std::vector<int64_t> xs = contiguous_strides(x_shape);
    int64_t base = 0;
    std::vector<int64_t> stride(x_shape.size());
    for (size_t d = 0; d < x_shape.size(); ++d) {
      base += first[d] * xs[d];
      stride[d] = step[d] * xs[d];
    }
    // Odometer over dY's elements, tracking the matching dX offset.
    float* out = dx.mutable_data<float>();
    const float* g = ctx.output_grad(0).data<float>();
    std::vector<int64_t> index(y_shape.size(), 0);
    int64_t offset = base;
    for (int64_t i = 0; i < total; ++i) {
      out[offset] = g[i];
      for (size_t d = y_shape.size(); d-- > 0;) {
        offset += stride[d];
        if (++index[d] < y_shape[d]) break;
        offset -= stride[d] * y_shape[d];
        index[d] = 0;
      }
    }
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status expand_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  ctx.input_grads[0] = reduce_to_shape(ctx, ctx.output_grad(0), ctx.input_shapes[0]);
  return Status::Ok();
}

}  // namespace

void register_shape_grads(GradRegistry& r) {
  // Dropout runs only as the identity (the forward rejects training-mode dropout).
  // Identity, which also passes sequences and optionals, is in grad_sequence.cc.
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout"})
    r.add(op, bit(0), needs_nothing, view_backward);
  r.add("Transpose", bit(0), needs_nothing, transpose_backward);
  r.add("Split", bit(0), needs_nothing, split_backward);
  r.add("Concat", kAllIndices, needs_nothing, concat_backward);
  r.add("Slice", bit(0), slice_needs, slice_backward);
  r.add("Expand", bit(0), needs_nothing, expand_backward);
}

}  // namespace ember::runtime::grad

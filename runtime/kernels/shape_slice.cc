// Slice: a strided copy whose per-axis stride is step * input stride, starting at the
// clamped start. Clamping follows the spec: negative starts/ends count from the end, then
// for positive steps both clamp to [0, dim], for negative steps start to [0, dim-1] and
// end to [-1, dim-1]. Opset 1 takes starts/ends/axes as attributes, opset 10 as inputs.
#include <algorithm>
#include <cstdint>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime {
namespace {

struct AxisSlice {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};

AxisSlice slice_axis(int64_t start, int64_t end, int64_t step, int64_t dim) {
  if (dim == 0) return {0, step, 0};
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  AxisSlice s;
  s.step = step;
  if (step > 0) {
    s.start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.count = end > s.start ? (end - s.start - 1) / step + 1 : 0;
  } else {
    s.start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    const int64_t magnitude = step == INT64_MIN ? INT64_MAX : -step;
    s.count = s.start > end ? (s.start - end - 1) / magnitude + 1 : 0;
  }
  return s;
}

Status slice(RunContext& ctx, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
             const std::vector<int64_t>* axes_given, const std::vector<int64_t>* steps_given) {
  const Tensor& in = ctx.input(0);
  const int rank = in.rank();
  if (starts.size() != ends.size())
    return invalid_input(ctx.where() + ": " + std::to_string(starts.size()) + " starts but " +
                         std::to_string(ends.size()) + " ends");
  std::vector<int64_t> axes_list;
  if (axes_given) {
    axes_list = *axes_given;
  } else {
    for (size_t i = 0; i < starts.size(); ++i) axes_list.push_back(int64_t(i));
  }
  if (axes_list.size() != starts.size() || (steps_given && steps_given->size() != starts.size()))
    return invalid_input(ctx.where() + ": starts, ends, axes and steps must have the same length");
  EMBER_ASSIGN_OR_RETURN(std::vector<int> axes, normalize_axes(axes_list, rank, ctx.where()));

  const std::vector<int64_t> in_strides = contiguous_strides(in.shape());
  Shape out_shape = in.shape();
  std::vector<int64_t> strides = in_strides;
  int64_t offset = 0;
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t step = steps_given ? (*steps_given)[k] : 1;
    if (step == 0) return invalid_input(ctx.where() + ": step 0 on axis " + std::to_string(axes[k]));
    const size_t d = size_t(axes[k]);
    const AxisSlice s = slice_axis(starts[k], ends[k], step, in.shape()[d]);
    out_shape[d] = s.count;
    if (s.count > 1) strides[d] = in_strides[d] * s.step;  // one element: the step is never taken
    if (s.count > 0) offset += s.start * in_strides[d];
  }
  if (out_shape == in.shape() && strides == in_strides) {  // nothing cut: a view
    ctx.outputs[0] = in;
    return Status::Ok();
  }
  const bool known = dispatch_storage(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = allocate_elements<T>(ctx, 0, in.dtype(), out_shape);
    if (shape_numel(out_shape) > 0) copy_strided(elements<T>(in) + offset, out, out_shape, strides);
  });
  if (!known) return unsupported_dtype(ctx, in.dtype());
  return Status::Ok();
}

}  // namespace

Status run_slice_v1(RunContext& ctx) {
  const ir::Attribute* axes = ctx.node.find_attr("axes");
  return slice(ctx, ctx.node.attr_ints("starts"), ctx.node.attr_ints("ends"), axes ? &axes->ints : nullptr, nullptr);
}

Status run_slice_v10(RunContext& ctx) {
  if (!ctx.has_input(1) || !ctx.has_input(2)) return invalid_input(ctx.where() + ": the starts and ends inputs are required");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> starts, read_indices(ctx, 1));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> ends, read_indices(ctx, 2));
  std::vector<int64_t> axes, steps;
  if (ctx.has_input(3)) {
    EMBER_ASSIGN_OR_RETURN(axes, read_indices(ctx, 3));
  }
  if (ctx.has_input(4)) {
    EMBER_ASSIGN_OR_RETURN(steps, read_indices(ctx, 4));
  }
  return slice(ctx, starts, ends, ctx.has_input(3) ? &axes : nullptr, ctx.has_input(4) ? &steps : nullptr);
}

}  // namespace ember::runtime

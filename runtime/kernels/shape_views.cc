// Shape, Size and the ops that only relabel dimensions (Identity, Reshape, Flatten, Squeeze,
// Unsqueeze). Tensors are immutable once produced, so the latter return views of their
// input's bytes instead of copies.
#include <algorithm>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"

namespace ember::runtime {
namespace {

Status squeeze(RunContext& ctx, const std::vector<int64_t>* axes) {
  const Tensor& in = ctx.input(0);
  Shape out;
  if (!axes) {
    for (int64_t d : in.shape())
      if (d != 1) out.push_back(d);
  } else {
    EMBER_ASSIGN_OR_RETURN(std::vector<int> normalized, normalize_axes(*axes, in.rank(), ctx.where()));
    std::vector<bool> drop(in.shape().size(), false);
    for (int a : normalized) {
      if (in.dim(a) != 1)
        return invalid_input(ctx.where() + ": cannot squeeze axis " + std::to_string(a) + " of shape " +
                             shape_to_string(in.shape()) + " (size is not 1)");
      drop[size_t(a)] = true;
    }
    for (size_t d = 0; d < drop.size(); ++d)
      if (!drop[d]) out.push_back(in.shape()[d]);
  }
  ctx.outputs[0] = in.reshaped(std::move(out));
  return Status::Ok();
}

Status unsqueeze(RunContext& ctx, const std::vector<int64_t>& axes) {
  const Tensor& in = ctx.input(0);
  const int out_rank = in.rank() + static_cast<int>(axes.size());
  EMBER_ASSIGN_OR_RETURN(std::vector<int> normalized, normalize_axes(axes, out_rank, ctx.where()));
  std::vector<bool> inserted(size_t(out_rank), false);
  for (int a : normalized) inserted[size_t(a)] = true;
  Shape out;
  size_t next = 0;
  for (int d = 0; d < out_rank; ++d) out.push_back(inserted[size_t(d)] ? 1 : in.shape()[next++]);
  ctx.outputs[0] = in.reshaped(std::move(out));
  return Status::Ok();
}

}  // namespace

Status run_shape(RunContext& ctx) {
  const Shape& shape = ctx.input(0).shape();
  const auto rank = static_cast<int64_t>(shape.size());
  const auto clamp_to_rank = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp_to_rank(ctx.node.attr_int("start", 0));
  const int64_t end = clamp_to_rank(ctx.node.attr_int("end", rank));
  const int64_t count = std::max<int64_t>(0, end - start);
  int64_t* out = ctx.allocate_output(0, DType::kI64, {count}).mutable_data<int64_t>();
  for (int64_t i = 0; i < count; ++i) out[i] = shape[size_t(start + i)];
  return Status::Ok();
}

Status run_size(RunContext& ctx) {
  ctx.allocate_output(0, DType::kI64, {}).mutable_data<int64_t>()[0] = ctx.input(0).numel();
  return Status::Ok();
}

Status run_identity(RunContext& ctx) {
  ctx.outputs[0] = ctx.input(0);
  return Status::Ok();
}

Status run_reshape(RunContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (!ctx.has_input(1)) return invalid_input(ctx.where() + ": the shape input is missing");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> requested, read_indices(ctx, 1));
  const bool allow_zero = ctx.node.attr_int("allowzero", 0) != 0;
  Shape out(requested.size());
  int inferred = -1;
  int64_t known = 1;
  const auto error = [&](const std::string& why) {
    std::string list;
    for (int64_t v : requested) list += (list.empty() ? "" : ", ") + std::to_string(v);
    return invalid_input(ctx.where() + ": cannot reshape " + shape_to_string(in.shape()) + " to [" + list + "]: " + why);
  };
  for (size_t i = 0; i < requested.size(); ++i) {
    const int64_t v = requested[i];
    if (v == -1) {
      if (inferred >= 0) return error("more than one -1");
      inferred = static_cast<int>(i);
      continue;
    }
    if (v < -1) return error("negative dimension");
    if (v == 0 && !allow_zero) {
      if (i >= in.shape().size()) return error("0 copies a dimension the input does not have");
      out[i] = in.shape()[i];
    } else {
      out[i] = v;
    }
    known *= out[i];
  }
  if (inferred >= 0) {
    if (known == 0 || in.numel() % known != 0) return error("the -1 dimension cannot be inferred");
    out[size_t(inferred)] = in.numel() / known;
  }
  if (shape_numel(out) != in.numel()) return error("element counts differ");
  ctx.outputs[0] = in.reshaped(std::move(out));
  return Status::Ok();
}

Status run_flatten(RunContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t axis_attr = ctx.node.attr_int("axis", 1);
  const int64_t axis = axis_attr < 0 ? axis_attr + in.rank() : axis_attr;
  if (axis < 0 || axis > in.rank())
    return invalid_input(ctx.where() + ": axis " + std::to_string(axis_attr) + " is out of range for rank " +
                         std::to_string(in.rank()));
  const int64_t outer = product(in.shape(), 0, size_t(axis));
  const int64_t inner = product(in.shape(), size_t(axis), in.shape().size());
  ctx.outputs[0] = in.reshaped({outer, inner});
  return Status::Ok();
}

Status run_squeeze_v1(RunContext& ctx) {
  const ir::Attribute* axes = ctx.node.find_attr("axes");
  return squeeze(ctx, axes ? &axes->ints : nullptr);
}

Status run_squeeze_v13(RunContext& ctx) {
  if (!ctx.has_input(1)) return squeeze(ctx, nullptr);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> axes, read_indices(ctx, 1));
  return squeeze(ctx, &axes);
}

Status run_unsqueeze_v1(RunContext& ctx) {
  const ir::Attribute* axes = ctx.node.find_attr("axes");
  if (!axes) return invalid_input(ctx.where() + ": the axes attribute is missing");
  return unsqueeze(ctx, axes->ints);
}

Status run_unsqueeze_v13(RunContext& ctx) {
  if (!ctx.has_input(1)) return invalid_input(ctx.where() + ": the axes input is missing");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> axes, read_indices(ctx, 1));
  return unsqueeze(ctx, axes);
}

}  // namespace ember::runtime

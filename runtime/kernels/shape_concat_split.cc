// Concat and Split. Both see the tensor as [outer, axis, inner]: every outer row of the
// output (Concat) or input (Split) is a run of contiguous blocks, one per part.
#include <algorithm>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime {
namespace {

Result<int> strict_axis(int64_t axis, int rank, const std::string& where) {
  EMBER_ASSIGN_OR_RETURN(std::vector<int> axes, normalize_axes({axis}, rank, where));
  return axes[0];
}

enum class SplitForm { kAttribute, kInput, kInputOrNumOutputs };

// Sizes of the parts along `axis` (dim elements) for the opset's form of Split.
Result<std::vector<int64_t>> split_sizes(const RunContext& ctx, SplitForm form, int64_t dim) {
  const auto outputs = static_cast<int64_t>(ctx.outputs.size());
  std::vector<int64_t> sizes;
  bool given = false;
  if (form == SplitForm::kAttribute && ctx.node.find_attr("split")) {
    sizes = ctx.node.attr_ints("split");
    given = true;
  } else if (form != SplitForm::kAttribute && ctx.has_input(1)) {
    EMBER_ASSIGN_OR_RETURN(sizes, read_indices(ctx, 1));
    given = true;
  }
  if (given) {
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0) return invalid_input(ctx.where() + ": negative split size " + std::to_string(s));
      total += s;
    }
    if (int64_t(sizes.size()) != outputs)
      return invalid_input(ctx.where() + ": " + std::to_string(sizes.size()) + " split sizes for " +
                           std::to_string(outputs) + " outputs");
    if (total != dim)
      return invalid_input(ctx.where() + ": split sizes add up to " + std::to_string(total) + ", the axis has " +
                           std::to_string(dim));
    return sizes;
  }
  int64_t parts = outputs;
  if (form == SplitForm::kInputOrNumOutputs && ctx.node.find_attr("num_outputs")) {
    parts = ctx.node.attr_int("num_outputs", outputs);
    if (parts != outputs)
      return invalid_input(ctx.where() + ": num_outputs is " + std::to_string(parts) + " but the node has " +
                           std::to_string(outputs) + " outputs");
  }
  if (parts <= 0) return invalid_input(ctx.where() + ": no outputs to split into");
  if (dim % parts == 0) return std::vector<int64_t>(size_t(parts), dim / parts);
  if (form != SplitForm::kInputOrNumOutputs)
    return invalid_input(ctx.where() + ": an axis of " + std::to_string(dim) + " cannot be split into " +
                         std::to_string(parts) + " equal parts");
  // Opset 18: parts of ceil(dim / parts), the last one smaller.
  const int64_t chunk = dim / parts + 1;
  sizes.assign(size_t(parts), chunk);
  sizes.back() = dim - chunk * (parts - 1);
  if (sizes.back() < 0)
    return invalid_input(ctx.where() + ": an axis of " + std::to_string(dim) + " cannot be split into " +
                         std::to_string(parts) + " parts");
  return sizes;
}

Status split(RunContext& ctx, SplitForm form) {
  const Tensor& in = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(int axis, strict_axis(ctx.node.attr_int("axis", 0), in.rank(), ctx.where()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, split_sizes(ctx, form, in.dim(axis)));
  const int64_t outer = product(in.shape(), 0, size_t(axis));
  const int64_t inner = product(in.shape(), size_t(axis) + 1, in.shape().size());
  const int64_t in_row = in.dim(axis) * inner;
  const bool known = dispatch_storage(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    int64_t offset = 0;  // of the part within an input row
    for (size_t k = 0; k < sizes.size(); ++k) {
      Shape shape = in.shape();
      shape[size_t(axis)] = sizes[k];
      T* out = allocate_elements<T>(ctx, k, in.dtype(), shape);
      const T* src = elements<T>(in) + offset;
      const int64_t block = sizes[k] * inner;
      if (block > 0)
        parallel_for(outer, std::max<int64_t>(1, kCopyGrainElements / block), [&](int64_t begin, int64_t end) {
          for (int64_t o = begin; o < end; ++o) std::copy_n(src + o * in_row, block, out + o * block);
        });
      offset += block;
    }
  });
  if (!known) return unsupported_dtype(ctx, in.dtype());
  return Status::Ok();
}

}  // namespace

Status run_concat(RunContext& ctx) {
  if (ctx.num_inputs() == 0 || !ctx.has_input(0)) return invalid_input(ctx.where() + ": no inputs");
  const Tensor& first = ctx.input(0);
  if (!ctx.node.find_attr("axis")) return invalid_input(ctx.where() + ": the axis attribute is missing");
  EMBER_ASSIGN_OR_RETURN(int axis, strict_axis(ctx.node.attr_int("axis", 0), first.rank(), ctx.where()));
  Shape out_shape = first.shape();
  out_shape[size_t(axis)] = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    if (!ctx.has_input(k)) return invalid_input(ctx.where() + ": input " + std::to_string(k) + " is missing");
    const Tensor& t = ctx.input(k);
    bool compatible = t.dtype() == first.dtype() && t.rank() == first.rank();
    for (int d = 0; compatible && d < t.rank(); ++d) compatible = d == axis || t.dim(d) == first.dim(d);
    if (!compatible)
      return invalid_input(ctx.where() + ": input " + std::to_string(k) + " (" + std::string(dtype_name(t.dtype())) + " " +
                           shape_to_string(t.shape()) + ") does not match input 0 (" +
                           std::string(dtype_name(first.dtype())) + " " + shape_to_string(first.shape()) +
                           ") outside axis " + std::to_string(axis));
    out_shape[size_t(axis)] += t.dim(axis);
  }
  const int64_t outer = product(out_shape, 0, size_t(axis));
  const int64_t inner = product(out_shape, size_t(axis) + 1, out_shape.size());
  const int64_t out_row = out_shape[size_t(axis)] * inner;
  const bool known = dispatch_storage(first.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = allocate_elements<T>(ctx, 0, first.dtype(), out_shape);
    int64_t offset = 0;  // of the part within an output row
    for (size_t k = 0; k < ctx.num_inputs(); ++k) {
      const T* src = elements<T>(ctx.input(k));
      const int64_t block = ctx.input(k).dim(axis) * inner;
      if (block > 0)
        parallel_for(outer, std::max<int64_t>(1, kCopyGrainElements / block), [&](int64_t begin, int64_t end) {
          for (int64_t o = begin; o < end; ++o) std::copy_n(src + o * block, block, out + o * out_row + offset);
        });
      offset += block;
    }
  });
  if (!known) return unsupported_dtype(ctx, first.dtype());
  return Status::Ok();
}

Status run_split_v2(RunContext& ctx) { return split(ctx, SplitForm::kAttribute); }
Status run_split_v13(RunContext& ctx) { return split(ctx, SplitForm::kInput); }
Status run_split_v18(RunContext& ctx) { return split(ctx, SplitForm::kInputOrNumOutputs); }

}  // namespace ember::runtime

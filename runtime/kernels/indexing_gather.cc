// Gather, GatherElements, GatherND. Indices are checked and turned into source offsets
// first (so errors surface before any copying), then the copies run split across threads.
// Gather along axis 0 is the embedding lookup: each index is one contiguous row copy.
#include <algorithm>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime {
namespace {

// Copies rows: out row j (of `row` elements) comes from data + offsets[j].
Status copy_rows(RunContext& ctx, const Tensor& data, const Shape& out_shape, const std::vector<int64_t>& offsets,
                 int64_t row) {
  const bool known = dispatch_storage(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = elements<T>(data);
    T* out = allocate_elements<T>(ctx, 0, data.dtype(), out_shape);
    if (row == 0) return;
    parallel_for(int64_t(offsets.size()), std::max<int64_t>(1, kCopyGrainElements / row), [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) std::copy_n(src + offsets[size_t(j)], row, out + j * row);
    });
  });
  if (!known) return unsupported_dtype(ctx, data.dtype());
  return Status::Ok();
}

Result<int> read_axis(const RunContext& ctx, int rank) {
  EMBER_ASSIGN_OR_RETURN(std::vector<int> axes, normalize_axes({ctx.node.attr_int("axis", 0)}, rank, ctx.where()));
  return axes[0];
}

}  // namespace

Status run_gather(RunContext& ctx) {
  const Tensor& data = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(int axis_index, read_axis(ctx, data.rank()));
  const size_t axis = size_t(axis_index);
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> indices, read_indices(ctx, 1));
  const int64_t dim = data.shape()[axis];
  const int64_t outer = product(data.shape(), 0, axis);
  const int64_t inner = product(data.shape(), axis + 1, data.shape().size());
  for (int64_t& index : indices) {
    EMBER_ASSIGN_OR_RETURN(index, wrap_index(index, dim, ctx.where()));
  }
  std::vector<int64_t> offsets;
  offsets.reserve(size_t(outer) * indices.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t index : indices) offsets.push_back((o * dim + index) * inner);
  Shape out_shape(data.shape().begin(), data.shape().begin() + std::ptrdiff_t(axis));
  out_shape.insert(out_shape.end(), ctx.input(1).shape().begin(), ctx.input(1).shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + std::ptrdiff_t(axis) + 1, data.shape().end());
  return copy_rows(ctx, data, out_shape, offsets, inner);
}

Status run_gather_elements(RunContext& ctx) {
  const Tensor& data = ctx.input(0);
  EMBER_ASSIGN_OR_RETURN(int axis, read_axis(ctx, data.rank()));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, element_offsets(ctx, data, ctx.input(1), axis));
  return copy_rows(ctx, data, ctx.input(1).shape(), offsets, 1);
}

Status run_gather_nd(RunContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  EMBER_ASSIGN_OR_RETURN(SliceOffsets slices, slice_offsets(ctx, data, indices, ctx.node.attr_int("batch_dims", 0)));
  Shape out_shape(indices.shape().begin(), indices.shape().end() - 1);
  out_shape.insert(out_shape.end(), slices.slice_shape.begin(), slices.slice_shape.end());
  return copy_rows(ctx, data, out_shape, slices.offsets, slices.slice);
}

}  // namespace ember::runtime

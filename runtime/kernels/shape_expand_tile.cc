// Expand and Tile, both as strided copies: Expand reads broadcast dims with stride 0, and
// Tile is the copy of shape [r0, d0, r1, d1, ...] with strides [0, s0, 0, s1, ...], because
// output index r*d + i along each axis is exactly row-major order over (r, i).
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/shape_ops.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime {
namespace {

Status copy_with_strides(RunContext& ctx, const Shape& out_shape, const Shape& walk_shape,
                         const std::vector<int64_t>& walk_strides) {
  const Tensor& in = ctx.input(0);
  const bool known = dispatch_storage(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = allocate_elements<T>(ctx, 0, in.dtype(), out_shape);
    copy_strided(elements<T>(in), out, walk_shape, walk_strides);
  });
  if (!known) return unsupported_dtype(ctx, in.dtype());
  return Status::Ok();
}

}  // namespace

Status run_expand(RunContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (!ctx.has_input(1)) return invalid_input(ctx.where() + ": the shape input is missing");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> dims, read_indices(ctx, 1));
  for (int64_t d : dims)
    if (d < 0) return invalid_input(ctx.where() + ": negative dimension " + std::to_string(d) + " in the shape input");
  EMBER_ASSIGN_OR_RETURN(Shape out_shape, broadcast_shapes({in.shape(), Shape(dims.begin(), dims.end())}, ctx.where()));
  if (out_shape == in.shape()) {
    ctx.outputs[0] = in;
    return Status::Ok();
  }
  return copy_with_strides(ctx, out_shape, out_shape, broadcast_strides(in.shape(), out_shape));
}

Status run_tile(RunContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (!ctx.has_input(1)) return invalid_input(ctx.where() + ": the repeats input is missing");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> repeats, read_indices(ctx, 1));
  if (repeats.size() != in.shape().size())
    return invalid_input(ctx.where() + ": " + std::to_string(repeats.size()) + " repeats for an input of rank " +
                         std::to_string(in.rank()));
  const std::vector<int64_t> in_strides = contiguous_strides(in.shape());
  Shape out_shape, walk_shape;
  std::vector<int64_t> walk_strides;
  for (size_t d = 0; d < repeats.size(); ++d) {
    if (repeats[d] < 0) return invalid_input(ctx.where() + ": negative repeat " + std::to_string(repeats[d]));
    int64_t extent = 0;
    if (__builtin_mul_overflow(in.shape()[d], repeats[d], &extent))
      return invalid_input(ctx.where() + ": repeat " + std::to_string(repeats[d]) + " of axis " + std::to_string(d) +
                           " overflows 64 bits");
    out_shape.push_back(extent);
    walk_shape.insert(walk_shape.end(), {repeats[d], in.shape()[d]});
    walk_strides.insert(walk_strides.end(), {0, in_strides[d]});
  }
  return copy_with_strides(ctx, out_shape, walk_shape, walk_strides);
}

}  // namespace ember::runtime

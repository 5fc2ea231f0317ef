// SplitToSequence and ConcatFromSequence (opset 11+): the sequence ops that move bytes.
//   SplitToSequence(x, split?; axis = 0, keepdims = 1): x cut along `axis` into
//     - split absent: parts of 1 (the axis dropped when keepdims = 0);
//     - split a scalar c: parts of c, the last one dim % c when that is not 0;
//     - split 1-D: parts of split[i], which must add up to dim (keepdims ignored).
//   ConcatFromSequence(s; axis, new_axis = 0): Concat of the tensors along `axis`
//     (in [-r, r-1]); with new_axis = 1, a stack along a new axis (in [-r-1, r]).
// Both copy row blocks: outer = prod(dims before axis), each block contiguous after it.
#include <cstring>

#include "ir/memory_limits.h"
#include "runtime/kernels/sequence_ops.h"

namespace ember::runtime {
namespace {

Status check_byte_addressable(const ValueRunContext& ctx, DType dtype) {
  const int bits = traits(dtype).bits;
  if (bits == 0 || bits % 8) return unsupported(ctx.where() + ": " + std::string(dtype_name(dtype)) + " tensors are not supported");
  return Status::Ok();
}

// Product of shape[from, to).
int64_t span(const Shape& shape, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t d = from; d < to; ++d) n *= shape[d];
  return n;
}

// Rows [begin, begin + count) of `x` along `axis`, a new tensor.
Tensor slice_axis(ValueRunContext& ctx, const Tensor& x, size_t axis, int64_t begin, int64_t count) {
  Shape shape = x.shape();
  shape[axis] = count;
  Tensor out = ctx.allocate(x.dtype(), shape);
  const size_t element = size_t(traits(x.dtype()).bits / 8);
  const int64_t outer = span(shape, 0, axis), dim = x.dim(int(axis));
  const size_t inner = size_t(span(shape, axis + 1, shape.size())) * element;
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(out.raw_mutable());
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + size_t(o * count) * inner, src + size_t(o * dim + begin) * inner, size_t(count) * inner);
  return out;
}

// The part sizes along an axis of `dim`, and whether the axis stays (see the file comment).
Result<std::vector<int64_t>> split_sizes(const ValueRunContext& ctx, int64_t dim) {
  if (!ctx.has_input(1)) return std::vector<int64_t>(size_t(dim), 1);
  EMBER_ASSIGN_OR_RETURN(const Tensor* split, ctx.tensor(1, "split"));
  auto values = split->to_int64s();
  if (!values.ok() || split->rank() > 1) return invalid_input(ctx.where() + ": split must be an integer scalar or 1-D tensor");
  if (split->rank() == 0) {
    const int64_t chunk = (*values)[0];
    if (chunk <= 0) return invalid_input(ctx.where() + ": split must be positive, it is " + std::to_string(chunk));
    const int64_t parts = dim / chunk + (dim % chunk ? 1 : 0);
    EMBER_TRY(check_sequence_size(ctx, parts));
    std::vector<int64_t> sizes(size_t(dim / chunk), chunk);
    if (dim % chunk) sizes.push_back(dim % chunk);
    return sizes;
  }
  int64_t total = 0;
  for (int64_t v : *values) {
    if (v < 0) return invalid_input(ctx.where() + ": split holds a negative size " + std::to_string(v));
    total += v;
    if (total > dim) break;
  }
  if (total != dim)
    return invalid_input(ctx.where() + ": split adds up to " + std::to_string(total) + ", the axis has " + std::to_string(dim));
  return std::move(values).value();
}

// Shape of the ConcatFromSequence output; invalid_input when the tensors do not fit together.
Result<Shape> concat_shape(const ValueRunContext& ctx, const std::vector<Tensor>& parts, size_t axis, bool stacking) {
  const Shape& first = parts[0].shape();
  Shape shape = first;
  if (stacking) shape.insert(shape.begin() + std::ptrdiff_t(axis), 0);
  else shape[axis] = 0;  // the sum of the parts
  for (size_t i = 0; i < parts.size(); ++i) {
    const Shape& s = parts[i].shape();
    bool fits = s.size() == first.size() && parts[i].dtype() == parts[0].dtype();
    for (size_t d = 0; fits && d < s.size(); ++d) fits = s[d] == first[d] || (!stacking && d == axis);
    if (!fits)
      return invalid_input(ctx.where() + ": tensor " + std::to_string(i) + " is " + std::string(dtype_name(parts[i].dtype())) + " " +
                           shape_to_string(s) + ", tensor 0 " + std::string(dtype_name(parts[0].dtype())) + " " +
                           shape_to_string(first) + (stacking ? " (stacked tensors must match)" : " (they may differ only on the axis)"));
    shape[axis] += stacking ? 1 : s[axis];
  }
  return shape;
}

}  // namespace

Status split_to_sequence(ValueRunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const Tensor* x, ctx.tensor(0, "the input"));
  EMBER_TRY(check_byte_addressable(ctx, x->dtype()));
  int64_t axis = ctx.node.attr_int("axis", 0);
  if (axis < -x->rank() || axis >= x->rank())
    return invalid_input(ctx.where() + ": axis " + std::to_string(axis) + " is outside [-" + std::to_string(x->rank()) + ", " +
                         std::to_string(x->rank() - 1) + "] for the input " + shape_to_string(x->shape()));
  if (axis < 0) axis += x->rank();
  const int64_t dim = x->dim(int(axis));
  if (!ctx.has_input(1)) EMBER_TRY(check_sequence_size(ctx, dim));
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, split_sizes(ctx, dim));
  EMBER_TRY(check_sequence_size(ctx, int64_t(sizes.size())));
  const bool drop_axis = !ctx.has_input(1) && ctx.node.attr_int("keepdims", 1) == 0;
  Shape dropped = x->shape();
  dropped.erase(dropped.begin() + axis);
  std::vector<Tensor> parts;
  int64_t begin = 0;
  for (int64_t size : sizes) {
    Tensor part = slice_axis(ctx, *x, size_t(axis), begin, size);
    parts.push_back(drop_axis ? part.reshaped(dropped) : part);
    begin += size;
  }
  ctx.set_output(0, Value::sequence(x->dtype(), std::move(parts)));
  return Status::Ok();
}

Status concat_from_sequence(ValueRunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const Value* seq, ctx.sequence(0, "the input sequence"));
  if (!ctx.node.find_attr("axis")) return invalid_input(ctx.where() + ": the axis attribute is required");
  const std::vector<Tensor>& parts = seq->elements();
  if (parts.empty()) return invalid_input(ctx.where() + ": the sequence is empty (nothing to concatenate)");
  EMBER_TRY(check_byte_addressable(ctx, parts[0].dtype()));
  const bool stacking = ctx.node.attr_int("new_axis", 0) == 1;
  const int64_t rank = parts[0].rank() + (stacking ? 1 : 0);
  int64_t axis = ctx.node.attr_int("axis", 0);
  if (axis < -rank || axis >= rank || rank == 0)
    return invalid_input(ctx.where() + ": axis " + std::to_string(axis) + " is outside [-" + std::to_string(rank) + ", " +
                         std::to_string(rank - 1) + "] for tensors " + shape_to_string(parts[0].shape()));
  if (axis < 0) axis += rank;
  EMBER_ASSIGN_OR_RETURN(Shape shape, concat_shape(ctx, parts, size_t(axis), stacking));
  EMBER_TRY(check_output_shape(ctx.where(), parts[0].dtype(), shape));
  Tensor out = ctx.allocate(parts[0].dtype(), shape);
  const size_t element = size_t(traits(out.dtype()).bits / 8);
  const int64_t outer = span(shape, 0, size_t(axis));
  const size_t row = size_t(span(shape, size_t(axis), shape.size())) * element;  // one output block
  auto* dst = static_cast<uint8_t*>(out.raw_mutable());
  size_t offset = 0;  // of each part's block inside an output block
  for (const Tensor& part : parts) {
    const size_t block = outer ? part.nbytes() / size_t(outer) : 0;
    const auto* src = static_cast<const uint8_t*>(part.raw());
    for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + size_t(o) * row + offset, src + size_t(o) * block, block);
    offset += block;
  }
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

}  // namespace ember::runtime

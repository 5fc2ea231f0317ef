// Backward rules of the sequence ops that move bytes, each the other's adjoint. With `outer`
// the product of the dimensions before the axis, every tensor is `outer` contiguous blocks
// (element i: numel_i / outer values each), laid side by side in each row of the big tensor:
//   y = ConcatFromSequence(s; axis, new_axis):  ds[i] = the blocks of dy at element i's offset
//       (new_axis = 1 stacks: the blocks are one slice each, viewed with the element's shape)
//   s = SplitToSequence(x, split; axis, keepdims):  dx = the blocks of ds[i] side by side,
//       zeros where ds[i] is none (the same for a dropped axis: keepdims = 0 only reshapes)
// Both read only shapes: the element shapes the forward pass recorded (ValueLayout).
#include <cstring>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/shape_common.h"

namespace ember::runtime::grad {
namespace {

// The element shapes of sequence input or output `layout`, naming the node when absent.
Result<const std::vector<Shape>*> element_shapes(const BackwardContext& ctx, const ValueLayout* layout, const char* what) {
  if (!layout || !layout->sequence || layout->empty)
    return invalid_input(ctx.where() + ": " + std::string(what) + " is not a sequence");
  return &layout->shapes;
}

// Piece i of every row of a big row-major tensor (`outer` rows, pieces of widths[i] side by
// side): split_rows copies them out to the pieces, join_rows back (pieces without storage skipped).
void split_rows(const float* big, int64_t outer, int64_t row, const std::vector<float*>& pieces, const std::vector<int64_t>& widths) {
  int64_t offset = 0;
  for (size_t i = 0; i < pieces.size(); offset += widths[i], ++i)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(pieces[i] + o * widths[i], big + o * row + offset, size_t(widths[i]) * sizeof(float));
}

void join_rows(float* big, int64_t outer, int64_t row, const std::vector<const float*>& pieces, const std::vector<int64_t>& widths) {
  int64_t offset = 0;
  for (size_t i = 0; i < pieces.size(); offset += widths[i], ++i)
    for (int64_t o = 0; pieces[i] && o < outer; ++o)
      std::memcpy(big + o * row + offset, pieces[i] + o * widths[i], size_t(widths[i]) * sizeof(float));
}

Status concat_from_sequence_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const std::vector<Shape>* shapes, element_shapes(ctx, ctx.input_layout(0), "the input"));
  const Shape& y_shape = ctx.output_shapes[0];
  EMBER_ASSIGN_OR_RETURN(const int axis, normalize_axis(ctx.node.attr_int("axis", 0), int(y_shape.size()), ctx.where()));
  const int64_t outer = product(y_shape, 0, size_t(axis));
  SequenceGrad ds;
  std::vector<float*> pieces;
  std::vector<int64_t> widths;
  int64_t row = 0;
  for (const Shape& s : *shapes) {
    ds.push_back(ctx.allocate(s));
    pieces.push_back(ds.back().mutable_data<float>());
    widths.push_back(outer ? shape_numel(s) / outer : 0);
    row += widths.back();
  }
  if (outer * row != shape_numel(y_shape))
    return internal_error(ctx.where() + ": the elements do not add up to the output " + shape_to_string(y_shape));
  split_rows(ctx.output_grad(0).data<float>(), outer, row, pieces, widths);
  ctx.input_sequence_grads[0] = std::move(ds);
  return Status::Ok();
}

Status split_to_sequence_backward(BackwardContext& ctx) {
  const SequenceGrad* g = ctx.output_sequence_grad(0);
  if (!g || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const std::vector<Shape>* shapes, element_shapes(ctx, ctx.output_layout(0), "the output"));
  if (g->size() != shapes->size()) return internal_error(ctx.where() + ": the gradient and the sequence differ in length");
  const Shape& x_shape = ctx.input_shapes[0];
  EMBER_ASSIGN_OR_RETURN(const int axis, normalize_axis(ctx.node.attr_int("axis", 0), int(x_shape.size()), ctx.where()));
  const int64_t outer = product(x_shape, 0, size_t(axis));
  Tensor dx = ctx.zeros(x_shape);  // elements no gradient reaches contribute zeros
  std::vector<const float*> pieces;
  std::vector<int64_t> widths;
  int64_t row = 0;
  for (size_t i = 0; i < shapes->size(); ++i) {
    pieces.push_back((*g)[i].defined() ? (*g)[i].data<float>() : nullptr);
    widths.push_back(outer ? shape_numel((*shapes)[i]) / outer : 0);
    row += widths.back();
  }
  if (outer * row != dx.numel())
    return internal_error(ctx.where() + ": the elements do not add up to the input " + shape_to_string(x_shape));
  join_rows(dx.mutable_data<float>(), outer, row, pieces, widths);
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_sequence_split_concat_grads(GradRegistry& r) {
  r.add_sequence_rule("ConcatFromSequence", bit(0), needs_nothing, concat_from_sequence_backward);
  r.add_sequence_rule("SplitToSequence", bit(0), needs_nothing, split_to_sequence_backward);
}

}  // namespace ember::runtime::grad

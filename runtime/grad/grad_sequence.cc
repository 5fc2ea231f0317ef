// Backward rules of the list-like sequence ops and the optionals (sequence_grads.h: the
// gradient of a sequence is one tensor gradient per element, undefined where none arrives;
// an optional's gradient is its element's). With g = dL/d(output sequence), n the length of
// the input sequence and p the position normalised as the forward kernel does (p + n when
// negative):
//   SequenceConstruct(t_0..t_{m-1}):  dt_i = g[i]
//   SequenceInsert(s, t, p = n):      ds[i] = g[i] for i < p, g[i + 1] for i >= p;  dt = g[p]
//   SequenceAt(s, p) = y:             ds[p] = dy, the other elements none
//   SequenceErase(s, p = n - 1):      ds[i] = g[i] for i < p, g[i - 1] for i > p;  ds[p] none
//   Identity(v), Optional(v), OptionalGetElement(v):  dv = the output's gradient, whatever
//                                     its kind (tensor or sequence)
// SequenceEmpty, SequenceLength and OptionalHasElement carry no gradient (grad_registry.cc).
#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

// The length of input `i`, which must be a sequence whose layout the forward pass recorded.
Result<int64_t> sequence_length(const BackwardContext& ctx, size_t i) {
  if (!ctx.input_is_sequence(i)) return invalid_input(ctx.where() + ": input " + std::to_string(i) + " is not a sequence");
  return int64_t(ctx.input_layout(i)->shapes.size());
}

// Position input `i` normalised to [0, n) (or [0, n] when inserting); `absent` when omitted.
Result<int64_t> read_position(const BackwardContext& ctx, size_t i, int64_t n, bool inserting, int64_t absent) {
  if (i >= ctx.node.inputs.size() || ctx.node.inputs[i].empty()) return absent;
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> values, read_int_input(ctx, i));
  if (values.size() != 1) return invalid_input(ctx.where() + ": the position must be one integer");
  const int64_t pos = values[0] < 0 ? values[0] + n : values[0];
  if (pos < 0 || pos > n || (pos == n && !inserting))
    return invalid_input(ctx.where() + ": position " + std::to_string(values[0]) + " is outside the sequence of " + std::to_string(n));
  return pos;
}

GradNeeds needs_input(const ir::Node& node, size_t i) {
  return {i < node.inputs.size() && !node.inputs[i].empty() ? bit(i) : IndexMask{0}, 0};
}
GradNeeds needs_position1(const ir::Node& node, IndexMask) { return needs_input(node, 1); }
GradNeeds needs_position2(const ir::Node& node, IndexMask) { return needs_input(node, 2); }

Status construct_backward(BackwardContext& ctx) {
  const SequenceGrad* g = ctx.output_sequence_grad(0);
  if (!g) return Status::Ok();
  if (g->size() != ctx.input_grads.size())
    return internal_error(ctx.where() + ": the sequence gradient has " + std::to_string(g->size()) + " tensors for " +
                          std::to_string(ctx.input_grads.size()) + " inputs");
  for (size_t i = 0; i < g->size(); ++i)
    if (ctx.wants(i) && (*g)[i].defined()) ctx.input_grads[i] = (*g)[i];
  return Status::Ok();
}

Status insert_backward(BackwardContext& ctx) {
  const SequenceGrad* g = ctx.output_sequence_grad(0);
  if (!g) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const int64_t n, sequence_length(ctx, 0));
  EMBER_ASSIGN_OR_RETURN(const int64_t p, read_position(ctx, 2, n, true, n));
  if (int64_t(g->size()) != n + 1) return internal_error(ctx.where() + ": the output gradient does not have n + 1 tensors");
  if (ctx.wants(1) && (*g)[size_t(p)].defined()) ctx.input_grads[1] = (*g)[size_t(p)];
  if (!ctx.wants(0)) return Status::Ok();
  SequenceGrad ds(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ds[size_t(i)] = (*g)[size_t(i < p ? i : i + 1)];
  ctx.input_sequence_grads[0] = std::move(ds);
  return Status::Ok();
}

Status at_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const int64_t n, sequence_length(ctx, 0));
  EMBER_ASSIGN_OR_RETURN(const int64_t p, read_position(ctx, 1, n, false, 0));
  SequenceGrad ds(static_cast<size_t>(n));
  ds[size_t(p)] = ctx.output_grad(0);
  ctx.input_sequence_grads[0] = std::move(ds);
  return Status::Ok();
}

Status erase_backward(BackwardContext& ctx) {
  const SequenceGrad* g = ctx.output_sequence_grad(0);
  if (!g || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const int64_t n, sequence_length(ctx, 0));
  if (n == 0) return invalid_input(ctx.where() + ": the sequence is empty");
  EMBER_ASSIGN_OR_RETURN(const int64_t p, read_position(ctx, 1, n, false, n - 1));
  if (int64_t(g->size()) != n - 1) return internal_error(ctx.where() + ": the output gradient does not have n - 1 tensors");
  SequenceGrad ds(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (i != p) ds[size_t(i)] = (*g)[size_t(i < p ? i : i - 1)];
  ctx.input_sequence_grads[0] = std::move(ds);
  return Status::Ok();
}

// Identity, Optional, OptionalGetElement: the value passes through (a tensor, a sequence,
// or an optional's element, which has the same gradient as the optional).
Status pass_through_backward(BackwardContext& ctx) {
  if (!ctx.wants(0)) return Status::Ok();
  if (const SequenceGrad* g = ctx.output_sequence_grad(0)) {
    if (!ctx.input_is_sequence(0))
      return invalid_input(ctx.where() + ": the output is a sequence, the input is not (" + ctx.node.inputs[0] + ")");
    ctx.input_sequence_grads[0] = *g;
    return Status::Ok();
  }
  if (!ctx.has_output_grad(0)) return Status::Ok();
  ctx.input_grads[0] = ctx.output_grad(0).reshaped(ctx.input_shapes[0]);
  return Status::Ok();
}

}  // namespace

void register_sequence_grads(GradRegistry& r) {
  r.add_sequence_rule("SequenceConstruct", kAllIndices, needs_nothing, construct_backward);
  r.add_sequence_rule("SequenceInsert", bit(0) | bit(1), needs_position2, insert_backward);
  r.add_sequence_rule("SequenceAt", bit(0), needs_position1, at_backward);
  r.add_sequence_rule("SequenceErase", bit(0), needs_position1, erase_backward);
  for (const char* op : {"Identity", "Optional", "OptionalGetElement"}) r.add_sequence_rule(op, bit(0), needs_nothing, pass_through_backward);
}

}  // namespace ember::runtime::grad

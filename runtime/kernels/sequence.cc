// Sequence operators (opset 11+), over Values (value_kernel.h); a sequence is a list of tensors
// of one element type, shared and never copied:
//   SequenceEmpty(dtype)            -> []
//   SequenceConstruct(t0, t1, ...)  -> [t0, t1, ...]          (one element type)
//   SequenceInsert(s, t, pos = n)   -> s[:pos] + [t] + s[pos:], pos in [-n, n]
//   SequenceAt(s, pos)              -> s[pos],                 pos in [-n, n-1]
//   SequenceErase(s, pos = -1)      -> s without s[pos],       pos in [-n, n-1]
//   SequenceLength(s)               -> int64 n
// A negative position counts from the back (pos + n). Every new sequence's length is checked
// against the caps (check_sequence_size). SplitToSequence and ConcatFromSequence copy bytes:
// sequence_split_concat.cc.
#include "runtime/kernels/sequence_ops.h"

namespace ember::runtime {
namespace {

// The element type and tensors of input `i`, which must be a sequence.
Result<const Value*> sequence_input(const ValueRunContext& ctx, size_t i) { return ctx.sequence(i, "the input sequence"); }

Status check_element(const ValueRunContext& ctx, const Value& seq, const Tensor& t, const std::string& what) {
  if (seq.elem_type() != DType::kUndefined && t.dtype() != seq.elem_type())
    return invalid_input(ctx.where() + ": " + what + " is " + std::string(dtype_name(t.dtype())) + ", the sequence holds " +
                         std::string(dtype_name(seq.elem_type())) + " tensors");
  return Status::Ok();
}

Status sequence_empty(ValueRunContext& ctx) {
  const int64_t code = ctx.node.attr_int("dtype", int64_t(DType::kF32));
  const DTypeTraits* type = find_dtype_traits(int32_t(code));
  if (!type || code != int64_t(int32_t(code))) return invalid_input(ctx.where() + ": unknown dtype " + std::to_string(code));
  ctx.set_output(0, Value::sequence(type->dtype, {}));
  return Status::Ok();
}

Status sequence_construct(ValueRunContext& ctx) {
  if (ctx.num_inputs() == 0) return invalid_input(ctx.where() + ": needs at least one tensor");
  EMBER_TRY(check_sequence_size(ctx, int64_t(ctx.num_inputs())));
  std::vector<Tensor> elements;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    EMBER_ASSIGN_OR_RETURN(const Tensor* t, ctx.tensor(i, "tensor " + std::to_string(i)));
    if (!elements.empty() && t->dtype() != elements[0].dtype())
      return invalid_input(ctx.where() + ": tensor " + std::to_string(i) + " is " + std::string(dtype_name(t->dtype())) +
                           ", tensor 0 is " + std::string(dtype_name(elements[0].dtype())) + " (a sequence holds one type)");
    elements.push_back(*t);
  }
  const DType type = elements[0].dtype();
  ctx.set_output(0, Value::sequence(type, std::move(elements)));
  return Status::Ok();
}

Status sequence_insert(ValueRunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const Value* seq, sequence_input(ctx, 0));
  EMBER_ASSIGN_OR_RETURN(const Tensor* t, ctx.tensor(1, "the tensor to insert"));
  EMBER_TRY(check_element(ctx, *seq, *t, "the tensor to insert"));
  const int64_t n = int64_t(seq->elements().size());
  int64_t pos = n;
  if (ctx.has_input(2)) {
    EMBER_ASSIGN_OR_RETURN(pos, read_position(ctx, 2, n, true));
  }
  EMBER_TRY(check_sequence_size(ctx, n + 1));
  std::vector<Tensor> elements = seq->elements();
  elements.insert(elements.begin() + pos, *t);
  ctx.set_output(0, Value::sequence(t->dtype(), std::move(elements)));
  return Status::Ok();
}

Status sequence_at(ValueRunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const Value* seq, sequence_input(ctx, 0));
  EMBER_ASSIGN_OR_RETURN(int64_t pos, read_position(ctx, 1, int64_t(seq->elements().size()), false));
  ctx.set_output(0, seq->elements()[size_t(pos)]);
  return Status::Ok();
}

Status sequence_erase(ValueRunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const Value* seq, sequence_input(ctx, 0));
  const int64_t n = int64_t(seq->elements().size());
  int64_t pos = n - 1;
  if (ctx.has_input(1)) {
    EMBER_ASSIGN_OR_RETURN(pos, read_position(ctx, 1, n, false));
  } else if (n == 0) {
    return invalid_input(ctx.where() + ": cannot erase from an empty sequence");
  }
  std::vector<Tensor> elements = seq->elements();
  elements.erase(elements.begin() + pos);
  ctx.set_output(0, Value::sequence(seq->elem_type(), std::move(elements)));
  return Status::Ok();
}

Status sequence_length(ValueRunContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const Value* seq, sequence_input(ctx, 0));
  ctx.set_output(0, Tensor::scalar<int64_t>(int64_t(seq->elements().size())));
  return Status::Ok();
}

}  // namespace

Result<int64_t> read_position(const ValueRunContext& ctx, size_t i, int64_t length, bool inserting) {
  EMBER_ASSIGN_OR_RETURN(const Tensor* t, ctx.tensor(i, "the position"));
  if (t->numel() != 1 || (t->dtype() != DType::kI64 && t->dtype() != DType::kI32))
    return invalid_input(ctx.where() + ": the position must be one int32 or int64, it is " + std::string(dtype_name(t->dtype())) +
                         " " + shape_to_string(t->shape()));
  const int64_t pos = t->dtype() == DType::kI64 ? t->data<int64_t>()[0] : t->data<int32_t>()[0];
  const int64_t last = inserting ? length : length - 1;
  if (pos < -length || pos > last)
    return invalid_input(ctx.where() + ": position " + std::to_string(pos) + " is outside [" + std::to_string(-length) + ", " +
                         std::to_string(last) + "] for a sequence of " + std::to_string(length));
  return pos < 0 ? pos + length : pos;
}

void register_sequence_kernels(KernelRegistry& registry) {
  add_value_function(registry, "SequenceEmpty", 11, sequence_empty);
  add_value_function(registry, "SequenceConstruct", 11, sequence_construct);
  add_value_function(registry, "SequenceInsert", 11, sequence_insert);
  add_value_function(registry, "SequenceAt", 11, sequence_at);
  add_value_function(registry, "SequenceErase", 11, sequence_erase);
  add_value_function(registry, "SequenceLength", 11, sequence_length);
  add_value_function(registry, "SplitToSequence", 11, split_to_sequence);
  add_value_function(registry, "ConcatFromSequence", 11, concat_from_sequence);
  registry.add("SequenceMap", "", 17, make_sequence_map_kernel);
}

}  // namespace ember::runtime

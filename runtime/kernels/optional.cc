// Optional operators (opset 15+) and the value-carrying Identity (14+), over Values:
//   Optional(x)              -> an optional holding x (a tensor or a sequence);
//   Optional(; type)         -> an empty optional of the element type the `type` attribute names;
//   OptionalHasElement(o)    -> bool: o holds an element. Opset 15 takes an optional; 18 also a
//                               tensor or a sequence (true) or no input at all (false);
//   OptionalGetElement(o)    -> the element of o (invalid_input when empty). Opset 18 passes a
//                               tensor or a sequence through;
//   Identity(v)              -> v, whatever its kind (sequences at 14, optionals at 16).
#include "runtime/type_proto_wire.h"
#include "runtime/value_kernel.h"

namespace ember::runtime {
namespace {

// The empty optional that Optional's `type` attribute describes (AttributeProto.tp = 14;
// TypeProto.tensor_type = 1, .sequence_type = 4; Tensor.elem_type = 1; Sequence.elem_type = 1).
Value empty_optional_of(const ir::Node& node) {
  const ir::Attribute* attr = node.find_attr("type");
  if (!attr) return Value::none(Value::Kind::kTensor, DType::kUndefined);
  auto type = find_wire_field(attr->opaque, 14);
  if (!type) return Value::none(Value::Kind::kTensor, DType::kUndefined);
  Value::Kind kind = Value::Kind::kTensor;
  std::string_view tensor_type;
  if (auto t = find_wire_field(type->bytes, kTypeTensor)) {
    tensor_type = t->bytes;
  } else if (auto s = find_wire_field(type->bytes, kTypeSequence)) {
    kind = Value::Kind::kSequence;
    auto inner = find_wire_field(s->bytes, 1);
    auto t2 = inner ? find_wire_field(inner->bytes, kTypeTensor) : std::nullopt;
    if (t2) tensor_type = t2->bytes;
  }
  auto elem = find_wire_field(tensor_type, 1);
  const DTypeTraits* traits = elem ? find_dtype_traits(int32_t(elem->varint)) : nullptr;
  return Value::none(kind, traits ? traits->dtype : DType::kUndefined);
}

Status optional_make(ValueRunContext& ctx) {
  if (!ctx.has_input(0)) {
    ctx.set_output(0, empty_optional_of(ctx.node));
    return Status::Ok();
  }
  const Value& x = ctx.inputs[0];
  if (x.is_optional()) return invalid_input(ctx.where() + ": the input is a " + x.describe() + "; Optional wraps a tensor or a sequence");
  ctx.set_output(0, Value::some(x));
  return Status::Ok();
}

Status has_element(ValueRunContext& ctx, bool any_kind) {
  bool has = false;
  if (ctx.has_input(0)) {
    const Value& x = ctx.inputs[0];
    if (!x.is_optional() && !any_kind)
      return invalid_input(ctx.where() + ": the input must be an optional (opset 15), it is a " + x.describe());
    has = x.is_optional() ? x.has_element() : true;
  } else if (!any_kind) {
    return invalid_input(ctx.where() + ": the input (an optional) is missing");
  }
  Tensor out = Tensor::zeros(DType::kBool, {});
  out.mutable_data<uint8_t>()[0] = has ? 1 : 0;
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}
Status has_element_15(ValueRunContext& ctx) { return has_element(ctx, false); }
Status has_element_18(ValueRunContext& ctx) { return has_element(ctx, true); }

Status get_element(ValueRunContext& ctx, bool any_kind) {
  if (!ctx.has_input(0)) return invalid_input(ctx.where() + ": the input is missing");
  const Value& x = ctx.inputs[0];
  if (!x.is_optional()) {
    if (!any_kind) return invalid_input(ctx.where() + ": the input must be an optional (opset 15), it is a " + x.describe());
    ctx.set_output(0, x);
    return Status::Ok();
  }
  if (!x.has_element()) return invalid_input(ctx.where() + ": the optional input is empty");
  ctx.set_output(0, x.element());
  return Status::Ok();
}
Status get_element_15(ValueRunContext& ctx) { return get_element(ctx, false); }
Status get_element_18(ValueRunContext& ctx) { return get_element(ctx, true); }

Status identity(ValueRunContext& ctx) {
  if (!ctx.has_input(0)) return invalid_input(ctx.where() + ": the input is missing");
  ctx.set_output(0, ctx.inputs[0]);
  return Status::Ok();
}

}  // namespace

void register_optional_kernels(KernelRegistry& registry) {
  add_value_function(registry, "Optional", 15, optional_make);
  add_value_function(registry, "OptionalHasElement", 15, has_element_15);
  add_value_function(registry, "OptionalHasElement", 18, has_element_18);
  add_value_function(registry, "OptionalGetElement", 15, get_element_15);
  add_value_function(registry, "OptionalGetElement", 18, get_element_18);
  add_value_function(registry, "Identity", 14, identity);
}

}  // namespace ember::runtime

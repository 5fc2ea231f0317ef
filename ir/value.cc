#include "ir/value.h"

namespace ember {

Value Value::sequence(DType elem_type, std::vector<Tensor> elements) {
  Value v;
  v.kind_ = Kind::kSequence;
  v.elem_type_ = elem_type;
  v.depth_ = 1;
  v.elements_ = std::make_shared<const std::vector<Tensor>>(std::move(elements));
  return v;
}

Value Value::nested_sequence(int depth, DType elem_type, std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::kSequence;
  v.elem_type_ = elem_type;
  v.depth_ = depth < 2 ? 2 : depth;
  v.items_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return v;
}

Value Value::some(Value element) {
  Value v;
  v.kind_ = Kind::kOptional;
  v.inner_kind_ = element.kind();
  v.elem_type_ = element.is_tensor() ? element.tensor().dtype() : element.elem_type();
  v.depth_ = element.is_sequence() ? element.depth() : 0;
  v.inner_ = std::make_shared<const Value>(std::move(element));
  return v;
}

Value Value::none(Kind inner, DType elem_type, int depth) {
  Value v;
  v.kind_ = Kind::kOptional;
  v.inner_kind_ = inner;
  v.elem_type_ = elem_type;
  v.depth_ = inner == Kind::kSequence ? (depth < 1 ? 1 : depth) : 0;
  return v;
}

const std::vector<Tensor>& Value::elements() const {
  static const std::vector<Tensor> kNone;
  return elements_ ? *elements_ : kNone;
}

const std::vector<Value>& Value::items() const {
  static const std::vector<Value> kNone;
  return items_ ? *items_ : kNone;
}

namespace {

// "f32 tensors", "sequences of f32 tensors", ...: what a sequence of `depth` holds.
std::string held_by_sequence(int depth, DType elem_type) {
  std::string s = std::string(dtype_name(elem_type)) + " tensors";
  for (int d = 1; d < depth; ++d) s = "sequences of " + s;
  return s;
}

}  // namespace

std::string Value::describe() const {
  switch (kind_) {
    case Kind::kTensor:
      if (!tensor_.defined()) return "an omitted value";
      return "tensor " + std::string(dtype_name(tensor_.dtype())) + " " + shape_to_string(tensor_.shape());
    case Kind::kSequence:
      return "sequence of " + std::to_string(length()) + " " + held_by_sequence(depth_, elem_type_);
    case Kind::kOptional:
      if (!inner_) return std::string("optional ") + kind_name(inner_kind_) + " (empty)";
      return "optional holding a " + inner_->describe();
  }
  return "value";
}

std::string sequence_type_string(int depth, DType elem_type) {
  std::string s = "tensor(" + std::string(dtype_name(elem_type)) + ")";
  for (int d = 0; d < depth; ++d) s = "seq(" + s + ")";
  return s;
}

std::string Value::type_string() const {
  switch (kind_) {
    case Kind::kTensor: return sequence_type_string(0, tensor_.dtype());
    case Kind::kSequence: return sequence_type_string(depth_, elem_type_);
    case Kind::kOptional: return "optional(" + sequence_type_string(depth_, elem_type_) + ")";
  }
  return "value";
}

size_t Value::nbytes() const {
  switch (kind_) {
    case Kind::kTensor: return tensor_.nbytes();
    case Kind::kSequence: {
      size_t total = 0;
      for (const auto& t : elements()) total += t.nbytes();
      for (const auto& v : items()) total += v.nbytes();
      return total;
    }
    case Kind::kOptional: return inner_ ? inner_->nbytes() : 0;
  }
  return 0;
}

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::kTensor: return "tensor";
    case Value::Kind::kSequence: return "sequence";
    case Value::Kind::kOptional: return "optional";
  }
  return "value";
}

}  // namespace ember

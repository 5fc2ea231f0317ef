#include "ir/value.h"

namespace ember {

Value Value::sequence(DType elem_type, std::vector<Tensor> elements) {
  Value v;
  v.kind_ = Kind::kSequence;
  v.elem_type_ = elem_type;
  v.elements_ = std::make_shared<const std::vector<Tensor>>(std::move(elements));
  return v;
}

Value Value::some(Value element) {
  Value v;
  v.kind_ = Kind::kOptional;
  v.inner_kind_ = element.kind();
  v.elem_type_ = element.is_tensor() ? element.tensor().dtype() : element.elem_type();
  v.inner_ = std::make_shared<const Value>(std::move(element));
  return v;
}

Value Value::none(Kind inner, DType elem_type) {
  Value v;
  v.kind_ = Kind::kOptional;
  v.inner_kind_ = inner;
  v.elem_type_ = elem_type;
  return v;
}

const std::vector<Tensor>& Value::elements() const {
  static const std::vector<Tensor> kNone;
  return elements_ ? *elements_ : kNone;
}

std::string Value::describe() const {
  switch (kind_) {
    case Kind::kTensor:
      if (!tensor_.defined()) return "an omitted value";
      return "tensor " + std::string(dtype_name(tensor_.dtype())) + " " + shape_to_string(tensor_.shape());
    case Kind::kSequence:
      return "sequence of " + std::to_string(elements().size()) + " " + std::string(dtype_name(elem_type_)) + " tensors";
    case Kind::kOptional:
      if (!inner_) return std::string("optional ") + kind_name(inner_kind_) + " (empty)";
      return "optional holding a " + inner_->describe();
  }
  return "value";
}

size_t Value::nbytes() const {
  switch (kind_) {
    case Kind::kTensor: return tensor_.nbytes();
    case Kind::kSequence: {
      size_t total = 0;
      for (const auto& t : elements()) total += t.nbytes();
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

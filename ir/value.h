// Value: one value of the ONNX type system as Ember runs it: a tensor, a sequence of tensors
// (opset 11+), or an optional (opset 15+) that holds a tensor, a sequence, or nothing.
// Like Tensor, copying a Value copies views: a sequence's tensors are shared, never their bytes,
// so SequenceInsert / SequenceErase build a new list of the same tensors.
// Sequences of sequences and maps are outside Ember (no operator of the default domain makes
// them from tensors).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace ember {

class Value {
 public:
  enum class Kind : uint8_t { kTensor, kSequence, kOptional };

  Value() = default;  // an undefined tensor (an omitted value)
  Value(Tensor tensor) : tensor_(std::move(tensor)) {}  // NOLINT: every tensor is a value
  // A sequence whose tensors all have `elem_type` (kept when the sequence is empty).
  static Value sequence(DType elem_type, std::vector<Tensor> elements);
  // An optional holding `element` (a tensor or a sequence).
  static Value some(Value element);
  // An empty optional that would hold a `inner` of `elem_type`.
  static Value none(Kind inner, DType elem_type);

  Kind kind() const { return kind_; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_optional() const { return kind_ == Kind::kOptional; }
  // A tensor value with storage (an omitted input is an undefined tensor).
  bool defined() const { return kind_ != Kind::kTensor || tensor_.defined(); }

  const Tensor& tensor() const { return tensor_; }  // kTensor
  // kSequence: the tensors; kOptional: what it holds or would hold.
  DType elem_type() const { return elem_type_; }
  const std::vector<Tensor>& elements() const;      // kSequence
  bool has_element() const { return inner_ != nullptr; }  // kOptional
  const Value& element() const { return *inner_; }  // kOptional with an element
  Kind inner_kind() const { return inner_kind_; }   // kOptional: kTensor or kSequence

  // "tensor float [2, 3]", "sequence of 3 float tensors", "optional sequence (empty)": messages.
  std::string describe() const;
  // Bytes of every tensor the value holds.
  size_t nbytes() const;

 private:
  Kind kind_ = Kind::kTensor;
  Kind inner_kind_ = Kind::kTensor;
  DType elem_type_ = DType::kUndefined;
  Tensor tensor_;
  std::shared_ptr<const std::vector<Tensor>> elements_;
  std::shared_ptr<const Value> inner_;
};

const char* kind_name(Value::Kind kind);  // "tensor", "sequence", "optional"

}  // namespace ember

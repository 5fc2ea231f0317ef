// Value: one value of the ONNX type system as Ember runs it: a tensor, a sequence of tensors
// (opset 11+), or an optional (opset 15+) that holds a tensor, a sequence, or nothing.
// Like Tensor, copying a Value copies views: a sequence's tensors are shared, never their bytes,
// so SequenceInsert / SequenceErase build a new list of the same tensors.
// Nested sequences (sequence(sequence(tensor)), any depth, and optionals of them) are values
// too: the type system allows them as graph inputs and outputs, although no operator of the
// default domain takes one (the sequence ops, Identity, If, Loop and Optional are typed
// seq(tensor) at most: the kernels refuse them, naming the node). A sequence's `depth` is 1
// for tensors, 2 for sequences of sequences of tensors, ... Maps stay outside Ember.
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
  // A sequence of `depth` >= 2 whose items are sequences of depth - 1 (of innermost tensor
  // type `elem_type`, kept when the sequence is empty).
  static Value nested_sequence(int depth, DType elem_type, std::vector<Value> items);
  // An optional holding `element` (a tensor or a sequence).
  static Value some(Value element);
  // An empty optional that would hold a `inner` of `elem_type` (a sequence of `depth`).
  static Value none(Kind inner, DType elem_type, int depth = 1);

  Kind kind() const { return kind_; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_optional() const { return kind_ == Kind::kOptional; }
  // A tensor value with storage (an omitted input is an undefined tensor).
  bool defined() const { return kind_ != Kind::kTensor || tensor_.defined(); }

  const Tensor& tensor() const { return tensor_; }  // kTensor
  // kSequence: the tensors; kOptional: what it holds or would hold.
  DType elem_type() const { return elem_type_; }
  const std::vector<Tensor>& elements() const;      // kSequence of depth 1: its tensors
  const std::vector<Value>& items() const;          // kSequence of depth >= 2: its sequences
  size_t length() const { return depth_ > 1 ? items().size() : elements().size(); }  // kSequence
  // kSequence: 1 for tensors, 2+ nested; kOptional: the depth of what it holds (0: a tensor).
  int depth() const { return depth_; }
  // A sequence of sequences, or an optional of one, anywhere inside: beyond what ops take.
  bool nested() const { return (is_sequence() && depth_ > 1) || (is_optional() && depth_ > 1); }
  bool has_element() const { return inner_ != nullptr; }  // kOptional
  const Value& element() const { return *inner_; }  // kOptional with an element
  Kind inner_kind() const { return inner_kind_; }   // kOptional: kTensor or kSequence

  // "tensor float [2, 3]", "sequence of 3 float tensors", "optional sequence (empty)",
  // "sequence of 2 sequences of f32 tensors": messages.
  std::string describe() const;
  // The ONNX type it has: "tensor(f32)", "seq(seq(tensor(f32)))", "optional(seq(tensor(i64)))".
  std::string type_string() const;
  // Bytes of every tensor the value holds.
  size_t nbytes() const;

 private:
  Kind kind_ = Kind::kTensor;
  Kind inner_kind_ = Kind::kTensor;
  DType elem_type_ = DType::kUndefined;
  int depth_ = 0;
  Tensor tensor_;
  std::shared_ptr<const std::vector<Tensor>> elements_;
  std::shared_ptr<const std::vector<Value>> items_;
  std::shared_ptr<const Value> inner_;
};

const char* kind_name(Value::Kind kind);  // "tensor", "sequence", "optional"
// "tensor(f32)" for depth 0, "seq(tensor(f32))" for 1, "seq(seq(tensor(f32)))" for 2, ...
std::string sequence_type_string(int depth, DType elem_type);

}  // namespace ember

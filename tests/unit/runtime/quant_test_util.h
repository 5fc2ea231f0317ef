// Helpers for the quantized kernel tests: nodes with attributes, running one op, packing
// 4-bit values, and a small deterministic random source.
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/tensor.h"
#include "runtime/single_op.h"

namespace ember::quant_test {

inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInt;
  a.i = v;
  return a;
}

inline ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kInts;
  a.ints = std::move(v);
  return a;
}

inline ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kString;
  a.s = v;
  return a;
}

// A node named "q_<op>" with inputs in0..in{n-1} and outputs out0..out{n-1}.
inline ir::Node make_node(const std::string& op, size_t inputs, size_t outputs = 1, std::vector<ir::Attribute> attrs = {},
                          const std::string& domain = "") {
  ir::Node n;
  n.name = "q_" + op;
  n.op_type = op;
  n.domain = domain;
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  n.attributes = std::move(attrs);
  return n;
}

// Marks omitted inputs (undefined tensors) with "" in the node, as a loader would.
inline ir::Node with_inputs_of(ir::Node node, const std::vector<Tensor>& inputs) {
  for (size_t i = 0; i < inputs.size() && i < node.inputs.size(); ++i)
    if (!inputs[i].defined()) node.inputs[i].clear();
  return node;
}

inline std::vector<Tensor> run_ok(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                                  bool constant = false) {
  auto result = runtime::run_single_op(with_inputs_of(node, inputs), opset, inputs, constant);
  if (!result.ok()) FAIL(result.status().message());
  return std::move(result).value();
}

inline Status run_status(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs, bool constant = false) {
  auto result = runtime::run_single_op(with_inputs_of(node, inputs), opset, inputs, constant);
  return result.ok() ? Status::Ok() : result.status();
}

// A packed int4 (signed) or uint4 tensor from unpacked values, low nibble first.
inline Tensor packed4(DType dtype, Shape shape, const std::vector<int>& values) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  uint8_t* p = t.mutable_data<uint8_t>();
  for (size_t i = 0; i < values.size(); ++i) p[i / 2] |= static_cast<uint8_t>((values[i] & 0xf) << (i % 2 ? 4 : 0));
  return t;
}

// Reads any integer tensor (including packed 4-bit) as ints.
inline std::vector<int> ints_of(const Tensor& t) {
  const std::vector<float> values = t.to_floats().value();
  std::vector<int> out;
  for (float v : values) out.push_back(static_cast<int>(v));
  return out;
}

inline std::vector<float> floats_of(const Tensor& t) { return t.to_floats().value(); }

// xorshift: reproducible values without <random>'s platform-dependent distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 2654435761u + 1) {}
  uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  int uniform_int(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() % 1000001) / 1000000.0f; }

 private:
  uint64_t state_;
};

template <class T>
Tensor random_ints(Rng& rng, Shape shape, int lo, int hi) {
  std::vector<T> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = static_cast<T>(rng.uniform_int(lo, hi));
  return Tensor::from_vector<T>(std::move(shape), v);
}

inline Tensor random_floats(Rng& rng, Shape shape, float lo, float hi) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = rng.uniform(lo, hi);
  return Tensor::from_vector<float>(std::move(shape), v);
}

}  // namespace ember::quant_test

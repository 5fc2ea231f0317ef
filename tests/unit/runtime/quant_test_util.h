// Helpers for the quantized kernel tests: nodes with attributes, running one op, packing
// 4-bit values, and a small deterministic random source. The common builders come from the
// shared test_support.h.
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace ember::quant_test {

using test::floats_of;
using test::half_tensor;
using test::int_attr;
using test::ints_attr;
using test::string_attr;

// A node named "q_<op>" with inputs in0..in{n-1} and outputs out0..out{n-1}.
inline ir::Node make_node(const std::string& op, size_t inputs, size_t outputs = 1, std::vector<ir::Attribute> attrs = {},
                          const std::string& domain = "") {
  ir::Node n = test::node(op, "q_" + op, test::numbered("in", inputs), test::numbered("out", outputs), std::move(attrs));
  n.domain = domain;
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
  return test::run_op(with_inputs_of(node, inputs), opset, inputs, constant);
}

inline Status run_status(const ir::Node& node, int64_t opset, const std::vector<Tensor>& inputs, bool constant = false) {
  return test::run_status(with_inputs_of(node, inputs), opset, inputs, constant);
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
  std::vector<int> out;
  for (float v : floats_of(t)) out.push_back(static_cast<int>(v));
  return out;
}

// xorshift: reproducible values without <random>'s platform-dependent distributions.
class Rng : public test::XorShift {
 public:
  explicit Rng(uint64_t seed) : XorShift(seed * 2654435761u + 1) {}
  int uniform_int(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() % 1000001) / 1000000.0f; }
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

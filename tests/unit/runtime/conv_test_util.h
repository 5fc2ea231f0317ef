// Helpers for the MatMul / Gemm / Conv / pooling kernel tests: their node builder and window
// attributes. Deterministic random tensors and the tolerance check that reports the first
// mismatch come from the shared test_support.h.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace ember::conv_test {

using test::check_close;
using test::float_attr;
using test::half_tensor;
using test::int_attr;
using test::ints_attr;
using test::random_floats;
using test::random_tensor;
using test::run_op;
using test::string_attr;
using test::to_doubles;

// A node named "n1" with inputs "in0".. (empty names for omitted ones) and outputs "out0"...
inline ir::Node make_node(const std::string& op, size_t inputs, size_t outputs, std::vector<ir::Attribute> attrs = {},
                          const std::vector<size_t>& omitted_inputs = {}) {
  ir::Node node = test::node(op, "n1", test::numbered("in", inputs), test::numbered("out", outputs), std::move(attrs));
  for (size_t i : omitted_inputs) node.inputs[i].clear();
  return node;
}

// Appends the optional window attributes Conv and the pooling ops share: strides, dilations
// and pads (all begins, then all ends).
inline void add_window_attrs(std::vector<ir::Attribute>& attrs, const std::vector<int64_t>& strides,
                             const std::vector<int64_t>& dilations, const std::vector<int64_t>& pad_begin,
                             const std::vector<int64_t>& pad_end) {
  if (!strides.empty()) attrs.push_back(ints_attr("strides", strides));
  if (!dilations.empty()) attrs.push_back(ints_attr("dilations", dilations));
  if (!pad_begin.empty()) {
    std::vector<int64_t> pads = pad_begin;
    pads.insert(pads.end(), pad_end.begin(), pad_end.end());
    attrs.push_back(ints_attr("pads", pads));
  }
}

// [N, C, spatial...] -> [N, spatial..., C].
inline Tensor to_channels_last(const Tensor& x) {
  const int64_t n = x.dim(0), c = x.dim(1), plane = x.numel() / std::max<int64_t>(n * c, 1);
  Shape shape{n};
  shape.insert(shape.end(), x.shape().begin() + 2, x.shape().end());
  shape.push_back(c);
  std::vector<float> v(static_cast<size_t>(x.numel()));
  const float* p = x.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t s = 0; s < plane; ++s) v[size_t((i * plane + s) * c + ch)] = p[(i * c + ch) * plane + s];
  return Tensor::from_vector<float>(shape, v);
}

}  // namespace ember::conv_test

// Backward rules of convolution and pooling against finite differences.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad Conv: padding, strides, dilations, groups, bias, 1-D and 2-D") {
  check_node("Conv", {{"x", random_f32({2, 2, 5, 5}, 1), Role::kFeed}, {"w", random_f32({3, 2, 3, 3}, 2)}, {"b", random_f32({3}, 3)}},
             {ints_attr("pads", {1, 1, 1, 1})});
  check_node("Conv", {{"x", random_f32({1, 4, 6, 5}, 4)}, {"w", random_f32({4, 2, 2, 3}, 5)}},
             {int_attr("group", 2), ints_attr("strides", {2, 1}), ints_attr("dilations", {1, 2}), ints_attr("pads", {0, 1, 1, 0})});
  check_node("Conv", {{"x", random_f32({2, 3, 7}, 6)}, {"w", random_f32({2, 3, 3}, 7)}, {"b", random_f32({2}, 8)}},
             {ints_attr("strides", {2})});
  check_node("Conv", {{"x", random_f32({1, 2, 4, 4}, 9)}, {"w", random_f32({2, 2, 1, 1}, 10)}});  // pointwise
}

TEST_CASE("grad MaxPool routes to the window maximum, AveragePool and GlobalAveragePool spread") {
  check_node("MaxPool", {{"x", distinct_f32({1, 2, 4, 4}, 1)}}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})});
  // Overlapping windows with padding: a maximum shared by two windows collects both gradients.
  check_node("MaxPool", {{"x", distinct_f32({2, 1, 5, 4}, 2)}},
             {ints_attr("kernel_shape", {3, 2}), ints_attr("pads", {1, 0, 1, 1}), ints_attr("strides", {1, 1})});
  for (int include_pad = 0; include_pad < 2; ++include_pad)
    check_node("AveragePool", {{"x", random_f32({1, 2, 5, 5}, 3)}},
               {ints_attr("kernel_shape", {3, 3}), ints_attr("pads", {1, 1, 1, 1}), ints_attr("strides", {2, 2}),
                int_attr("count_include_pad", include_pad)});
  check_node("GlobalAveragePool", {{"x", random_f32({2, 3, 3, 2}, 4)}});
}

}  // namespace ember::grad_test

namespace ember::grad_test {

TEST_CASE("grad ConvTranspose: strides, pads, output_padding, groups, bias") {
  check_node("ConvTranspose", {{"x", random_f32({2, 2, 3, 3}, 11), Role::kFeed}, {"w", random_f32({2, 3, 3, 3}, 12)}, {"b", random_f32({3}, 13)}},
             {ints_attr("strides", {2, 2}), ints_attr("pads", {1, 0, 1, 0}), ints_attr("output_padding", {1, 0})});
  check_node("ConvTranspose", {{"x", random_f32({1, 4, 4}, 14), Role::kFeed}, {"w", random_f32({4, 1, 3}, 15)}},
             {int_attr("group", 2), ints_attr("dilations", {2})});
}

}  // namespace ember::grad_test

namespace ember::grad_test {

TEST_CASE("grad LpPool, GlobalLpPool and GlobalMaxPool") {
  for (int64_t p : {2, 3}) {
    INFO("p ", p);
    check_node("LpPool", {{"x", distinct_f32({1, 2, 4, 4}, 1, 0.1f)}},
               {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {1, 2}), ints_attr("pads", {1, 0, 0, 0}), int_attr("p", p)}, 18);
    check_node("GlobalLpPool", {{"x", distinct_f32({2, 3, 2, 2}, 2, 0.1f)}}, {int_attr("p", p)});
  }
  check_node("GlobalMaxPool", {{"x", distinct_f32({2, 3, 3, 2}, 3)}});
  check_node("GlobalMaxPool", {{"x", distinct_f32({1, 2, 5}, 4)}});
}

}  // namespace ember::grad_test

namespace ember::grad_test {

namespace {
// Offsets whose fractional parts stay in [0.2, 0.8]: samples away from pixel boundaries, where
// bilinear sampling is linear along each offset coordinate over the check's small step.
Tensor safe_offsets(Shape shape, uint32_t seed) {
  Tensor t = random_f32(shape, seed);
  float* v = t.mutable_data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = std::floor(v[i]) + 0.2f + 0.6f * (v[i] - std::floor(v[i]));
  return t;
}
}  // namespace

TEST_CASE("grad DeformConv for X, W, offsets, B and mask, with groups and offset groups") {
  // X [1, 4, 5, 5], W [2, 2, 3, 3] in 2 groups, 2 offset groups, pads 1: output 5 x 5.
  const std::vector<ir::Attribute> attrs = {int_attr("group", 2), int_attr("offset_group", 2), ints_attr("pads", {1, 1, 1, 1})};
  check_float32_node("DeformConv",
                     {{"x", random_f32({1, 4, 5, 5}, 1)}, {"w", random_f32({2, 2, 3, 3}, 2)}, {"offset", safe_offsets({1, 36, 5, 5}, 3)},
                      {"b", random_f32({2}, 4)}, {"mask", random_f32({1, 18, 5, 5}, 5, 0.3f, 0.5f)}},
                     attrs, 19, 1e-3);
  // No mask, stride 2, dilation 2.
  check_float32_node("DeformConv",
                     {{"x", random_f32({2, 2, 6, 6}, 6)}, {"w", random_f32({3, 2, 2, 2}, 7)}, {"offset", safe_offsets({2, 8, 2, 2}, 8)}},
                     {ints_attr("strides", {2, 2}), ints_attr("dilations", {2, 2})}, 19, 1e-3);
}

}  // namespace ember::grad_test

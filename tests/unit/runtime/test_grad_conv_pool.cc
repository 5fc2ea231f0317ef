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

// The DFT and STFT backward rules (adjoint transforms) against finite differences.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad DFT: real and complex input, inverse, onesided, dft_length, opset 17 and 20 axes") {
  check_node("DFT", {{"x", random_f32({2, 5, 1}, 1)}}, {}, 17);
  check_node("DFT", {{"x", random_f32({2, 4, 2}, 2)}}, {int_attr("inverse", 1)}, 17);
  check_node("DFT", {{"x", random_f32({1, 6, 1}, 3)}}, {int_attr("onesided", 1)}, 17);
  // Zero padding to 7 points, and truncation to 3.
  check_node("DFT", {{"x", random_f32({2, 5, 2}, 4)}, {"n", Tensor::scalar<int64_t>(7), Role::kConstant}}, {}, 17);
  check_node("DFT", {{"x", random_f32({2, 5, 2}, 5)}, {"n", Tensor::scalar<int64_t>(3), Role::kConstant}}, {}, 17);
  check_node("DFT", {{"x", random_f32({3, 4, 2}, 6)}, {"", Tensor()}, {"axis", Tensor::scalar<int64_t>(0), Role::kConstant}}, {}, 20);
}

TEST_CASE("grad STFT for the signal and the window") {
  check_node("STFT",
             {{"x", random_f32({2, 10, 1}, 1), Role::kFeed}, {"step", Tensor::scalar<int64_t>(3), Role::kConstant},
              {"w", random_f32({4}, 2, 0.3f, 1.0f)}},
             {}, 17);
  check_node("STFT",
             {{"x", random_f32({1, 9, 2}, 3), Role::kFeed}, {"step", Tensor::scalar<int64_t>(2), Role::kConstant}, {"", Tensor()},
              {"len", Tensor::scalar<int64_t>(5), Role::kConstant}},
             {int_attr("onesided", 0)}, 17);
}

}  // namespace ember::grad_test

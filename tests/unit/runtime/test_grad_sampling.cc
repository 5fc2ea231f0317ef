// Backward rules of AffineGrid, Col2Im and GridSample. Their kernels are float32 only; AffineGrid
// and Col2Im are linear in the differentiated input, and GridSample is linear in X and, away
// from pixel boundaries, along each grid coordinate: so the float32 model itself, with central
// differences, is the reference.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace {
Tensor ints(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }
}  // namespace

TEST_CASE("grad AffineGrid, 2-D and 3-D, with and without align_corners") {
  for (int64_t align : {0, 1}) {
    INFO("align_corners ", align);
    check_float32_node("AffineGrid", {{"theta", random_f32({2, 2, 3}, 1)}, {"size", ints({2, 1, 3, 4}), Role::kConstant}},
                      {int_attr("align_corners", align)}, 20);
    check_float32_node("AffineGrid", {{"theta", random_f32({1, 3, 4}, 2)}, {"size", ints({1, 1, 2, 3, 2}), Role::kConstant}},
                      {int_attr("align_corners", align)}, 20);
  }
}

TEST_CASE("grad Col2Im: overlapping blocks, strides, pads and dilations") {
  // Image 4x5, block 2x2, stride 1: 3 x 4 = 12 blocks; 2 channels.
  check_float32_node("Col2Im",
                    {{"x", random_f32({1, 8, 12}, 1)}, {"image", ints({4, 5}), Role::kConstant}, {"block", ints({2, 2}), Role::kConstant}},
                    {}, 18);
  // Pads 1 on every side, stride 2, dilation 2 along the width: 3 x 2 = 6 blocks.
  check_float32_node("Col2Im",
                    {{"x", random_f32({2, 4, 6}, 2)}, {"image", ints({4, 4}), Role::kConstant}, {"block", ints({2, 2}), Role::kConstant}},
                    {ints_attr("pads", {1, 1, 1, 1}), ints_attr("strides", {2, 2}), ints_attr("dilations", {1, 2})}, 18);
}

TEST_CASE("grad GridSample for X (every mode) and the grid (linear), in each padding mode") {
  // Grid coordinates chosen so that v = ((u + 1) d - 1) / 2 stays at least 0.05 pixel from an
  // integer, some of them outside [-1, 1] to exercise the padding; the unit step is fine for X.
  const Tensor grid = Tensor::from_vector<float>({1, 2, 3, 2}, {-0.9f, -0.3f, 0.35f, 0.8f, 1.2f, -1.3f,
                                                                0.1f, 0.55f, -0.62f, 0.05f, 0.93f, 1.1f});
  const Tensor x = random_f32({1, 2, 3, 4}, 1);
  for (const char* pad : {"zeros", "border", "reflection"})
    for (int64_t align : {0, 1}) {
      INFO("padding ", pad, " align_corners ", align);
      const std::vector<ir::Attribute> attrs = {test::string_attr("padding_mode", pad), int_attr("align_corners", align)};
      check_float32_node("GridSample", {{"x", x}, {"grid", grid, Role::kConstant}}, attrs, 16);
      check_float32_node("GridSample", {{"x", x, Role::kConstant}, {"grid", grid}}, attrs, 16, 1e-3);
    }
  check_float32_node("GridSample", {{"x", x}, {"grid", grid, Role::kConstant}}, {test::string_attr("mode", "nearest")}, 16);
}

}  // namespace ember::grad_test

namespace ember::grad_test {

TEST_CASE("grad RoiAlign for the feature map: avg and max, both coordinate transforms") {
  // Two regions on two images; one reaches past the map's edge.
  const Tensor rois = Tensor::from_vector<float>({2, 4}, {0.3f, 0.6f, 4.1f, 3.7f, 1.2f, 0.4f, 5.6f, 4.8f});
  const Tensor images = Tensor::from_vector<int64_t>({2}, {0, 1});
  const Tensor x = distinct_f32({2, 2, 4, 5}, 1, 0.1f);
  for (const char* mode : {"avg", "max"})
    for (const char* transform : {"half_pixel", "output_half_pixel"}) {
      INFO(mode, " ", transform);
      const std::vector<ir::Attribute> attrs = {test::string_attr("mode", mode), test::string_attr("coordinate_transformation_mode", transform),
                                                int_attr("output_height", 2), int_attr("output_width", 3), int_attr("sampling_ratio", 2)};
      // Linear (avg) or piecewise linear (max, away from ties) in X: a small step stays on one piece.
      check_float32_node("RoiAlign", {{"x", x}, {"rois", rois, Role::kConstant}, {"images", images, Role::kConstant}}, attrs, 16, 1e-3);
    }
  check_float32_node("RoiAlign", {{"x", x}, {"rois", rois, Role::kConstant}, {"images", images, Role::kConstant}},
                     {int_attr("output_height", 2), int_attr("output_width", 2)}, 10);  // adaptive sampling, opset 10
}

}  // namespace ember::grad_test

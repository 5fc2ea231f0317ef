// Backward rules of the element-moving ops (Pad, Tile, DepthToSpace, SpaceToDepth,
// ReverseSequence, Trilu, CumSum) and of Sum, Mean, CastLike and Dropout, against finite
// differences.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace {
Tensor ints(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }
}  // namespace

TEST_CASE("grad Pad in every mode, with cropping, axes and a constant value") {
  for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
    INFO(mode);
    check_node("Pad", {{"x", random_f32({2, 3, 4}, 1), Role::kFeed}, {"pads", ints({0, 1, 2, 1, 2, 1}), Role::kConstant}},
               {test::string_attr("mode", mode)}, 19);
  }
  // Negative pads crop; the constant value is a weight here.
  check_node("Pad",
             {{"x", random_f32({3, 4}, 2), Role::kFeed}, {"pads", ints({1, -1, -1, 2}), Role::kConstant},
              {"value", Tensor::scalar<float>(0.5f)}},
             {}, 13);
  // Opset 18's axes input, and opset 2's attributes.
  check_node("Pad",
             {{"x", random_f32({2, 3, 4}, 3)}, {"pads", ints({2, 1}), Role::kConstant}, {"", Tensor()},
              {"axes", ints({-1}), Role::kConstant}},
             {test::string_attr("mode", "reflect")}, 18);
  check_node("Pad", {{"x", random_f32({2, 3}, 4)}}, {ints_attr("pads", {1, 0, 0, 2}), test::string_attr("mode", "edge")}, 2);
}

TEST_CASE("grad Tile, DepthToSpace (DCR and CRD) and SpaceToDepth") {
  check_node("Tile", {{"x", random_f32({2, 3}, 1)}, {"repeats", ints({3, 2}), Role::kConstant}});
  check_node("Tile", {{"x", random_f32({2, 1, 3}, 2)}, {"repeats", ints({1, 4, 1}), Role::kConstant}});
  check_node("DepthToSpace", {{"x", random_f32({2, 8, 2, 3}, 3)}}, {int_attr("blocksize", 2)});
  check_node("DepthToSpace", {{"x", random_f32({1, 8, 3, 2}, 4)}},
             {int_attr("blocksize", 2), test::string_attr("mode", "CRD")});
  check_node("SpaceToDepth", {{"x", random_f32({2, 2, 4, 6}, 5)}}, {int_attr("blocksize", 2)});
}

TEST_CASE("grad ReverseSequence, Trilu and CumSum") {
  check_node("ReverseSequence", {{"x", random_f32({4, 3, 2}, 1)}, {"lens", ints({4, 1, 3}), Role::kConstant}},
             {int_attr("time_axis", 0), int_attr("batch_axis", 1)}, 10);
  check_node("ReverseSequence", {{"x", random_f32({3, 4}, 2)}, {"lens", ints({2, 4, 0}), Role::kConstant}},
             {int_attr("time_axis", 1), int_attr("batch_axis", 0)}, 10);
  check_node("Trilu", {{"x", random_f32({2, 3, 4}, 3)}}, {}, 14);
  check_node("Trilu", {{"x", random_f32({4, 3}, 4)}, {"k", Tensor::scalar<int64_t>(-1), Role::kConstant}},
             {int_attr("upper", 0)}, 14);
  for (int exclusive : {0, 1})
    for (int reverse : {0, 1}) {
      INFO("exclusive ", exclusive, " reverse ", reverse);
      check_node("CumSum", {{"x", random_f32({2, 5, 3}, 5)}, {"axis", Tensor::scalar<int64_t>(1), Role::kConstant}},
                 {int_attr("exclusive", exclusive), int_attr("reverse", reverse)}, 14);
    }
}

TEST_CASE("grad CenterCropPad: crop one axis, pad another") {
  check_node("CenterCropPad", {{"x", random_f32({5, 2, 3}, 1)}, {"shape", ints({3, 4}), Role::kConstant}}, {ints_attr("axes", {0, 1})}, 18);
  check_node("CenterCropPad", {{"x", random_f32({4, 3}, 2)}, {"shape", ints({2, 6}), Role::kConstant}}, {}, 18);
}

TEST_CASE("grad Sum and Mean with broadcasting, CastLike between floats, Dropout at inference") {
  for (const char* op : {"Sum", "Mean"}) {
    INFO(op);
    check_node(op, {{"a", random_f32({2, 3}, 1), Role::kFeed}, {"b", random_f32({3}, 2)}, {"c", random_f32({2, 1}, 3)}}, {}, 13);
    check_node(op, {{"a", random_f32({2, 3}, 4)}}, {}, 13);
  }
  check_node("CastLike", {{"x", random_f32({2, 3}, 5)}, {"like", Tensor::scalar<float>(0.0f), Role::kConstant}}, {}, 15);
  check_node("Dropout", {{"x", random_f32({2, 3}, 6)}, {"ratio", Tensor::scalar<float>(0.3f), Role::kConstant}}, {}, 13, 2);
  check_node("Dropout", {{"x", random_f32({2, 3}, 7)}}, {float_attr("ratio", 0.2f)}, 7);
}

}  // namespace ember::grad_test

// Backward rules of the sequence and optional ops (grad_sequence.cc,
// grad_sequence_split_concat.cc), each against central differences of the same graph in f64:
// weights go into sequences, move through them and come out as tensors.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember {
namespace {

using grad_test::check_model_gradients;
using grad_test::make_graph_model;
using grad_test::make_node;
using grad_test::random_f32;
using grad_test::Role;
using grad_test::TestInput;
using test::int_attr;

constexpr int64_t kOpset = 18;

TestInput weight(const std::string& name, Shape shape, uint32_t seed) { return {name, random_f32(std::move(shape), seed)}; }
TestInput position(const std::string& name, int64_t p) { return {name, Tensor::scalar<int64_t>(p), Role::kConstant}; }

void check(std::vector<ir::Node> nodes, const std::vector<TestInput>& inputs, const std::vector<std::string>& outputs) {
  check_model_gradients(make_graph_model(std::move(nodes), inputs, outputs, kOpset), inputs);
}

}  // namespace

TEST_CASE("grad sequence: SequenceConstruct then SequenceAt, positive and negative positions") {
  // w2 is read at no position: its gradient is zero (not reported, and the reference agrees).
  check({make_node("SequenceConstruct", {"w0", "w1", "w2"}, {"s"}), make_node("SequenceAt", {"s", "p1"}, {"y0"}),
         make_node("SequenceAt", {"s", "m3"}, {"y1"}), make_node("SequenceAt", {"s", "p1"}, {"y2"})},
        {weight("w0", {2, 3}, 1), weight("w1", {4}, 2), weight("w2", {3, 1}, 3), position("p1", 1), position("m3", -3)},
        {"y0", "y1", "y2"});
}

TEST_CASE("grad sequence: SequenceInsert appended, at a position and at a negative one") {
  check({make_node("SequenceConstruct", {"a", "b"}, {"s"}), make_node("SequenceInsert", {"s", "t"}, {"s2"}),
         make_node("SequenceInsert", {"s2", "u", "m1"}, {"s3"}), make_node("SequenceInsert", {"s3", "v", "p0"}, {"s4"}),
         make_node("ConcatFromSequence", {"s4"}, {"y0"}, {int_attr("axis", 0)}), make_node("SequenceAt", {"s4", "p0"}, {"y1"})},
        {weight("a", {1, 3}, 1), weight("b", {2, 3}, 2), weight("t", {3, 3}, 3), weight("u", {1, 3}, 4), weight("v", {2, 3}, 5),
         position("m1", -1), position("p0", 0)},
        {"y0", "y1"});
}

TEST_CASE("grad sequence: SequenceInsert into an empty sequence (SequenceEmpty has no gradient)") {
  check({make_node("SequenceEmpty", {}, {"e"}, {int_attr("dtype", 1)}), make_node("SequenceInsert", {"e", "a"}, {"s1"}),
         make_node("SequenceInsert", {"s1", "b", "p0"}, {"s2"}), make_node("ConcatFromSequence", {"s2"}, {"y0"}, {int_attr("axis", 1)})},
        {weight("a", {2, 2}, 1), weight("b", {2, 3}, 2), position("p0", 0)}, {"y0"});
}

TEST_CASE("grad sequence: SequenceErase of the last element, at a position and at a negative one") {
  check({make_node("SequenceConstruct", {"a", "b", "c", "d", "e"}, {"s"}), make_node("SequenceErase", {"s"}, {"s1"}),
         make_node("SequenceErase", {"s1", "p1"}, {"s2"}), make_node("SequenceErase", {"s2", "m3"}, {"s3"}),
         make_node("ConcatFromSequence", {"s3"}, {"y0"}, {int_attr("axis", 1), int_attr("new_axis", 1)})},
        {weight("a", {2, 3}, 1), weight("b", {2, 3}, 2), weight("c", {2, 3}, 3), weight("d", {2, 3}, 4), weight("e", {2, 3}, 5),
         position("p1", 1), position("m3", -3)},
        {"y0"});
}

TEST_CASE("grad sequence: ConcatFromSequence along each axis, new_axis 0 and 1") {
  const std::vector<TestInput> inputs = {weight("a", {2, 3, 2}, 1), weight("b", {2, 3, 2}, 2), weight("c", {2, 3, 2}, 3)};
  for (int64_t new_axis : {0, 1})
    for (int64_t axis = -3 - new_axis; axis < 3 + new_axis; ++axis) {
      INFO("new_axis ", new_axis, " axis ", axis);
      check({make_node("SequenceConstruct", {"a", "b", "c"}, {"s"}),
             make_node("ConcatFromSequence", {"s"}, {"y0"}, {int_attr("axis", axis), int_attr("new_axis", new_axis)})},
            inputs, {"y0"});
    }
  // Pieces of different widths along the axis.
  check({make_node("SequenceConstruct", {"a", "b"}, {"s"}), make_node("ConcatFromSequence", {"s"}, {"y0"}, {int_attr("axis", 1)})},
        {weight("a", {2, 1, 3}, 1), weight("b", {2, 4, 3}, 2)}, {"y0"});
}

TEST_CASE("grad sequence: SplitToSequence with split absent (keepdims 0 and 1), a scalar and a list") {
  const TestInput x = weight("x", {4, 6}, 1);
  for (int64_t keepdims : {0, 1}) {
    INFO("keepdims ", keepdims);
    check({make_node("SplitToSequence", {"x"}, {"s"}, {int_attr("axis", 1), int_attr("keepdims", keepdims)}),
           make_node("SequenceAt", {"s", "p2"}, {"y0"}), make_node("SequenceAt", {"s", "m1"}, {"y1"})},
          {x, position("p2", 2), position("m1", -1)}, {"y0", "y1"});
  }
  // A scalar 4 on 6 columns: parts of 4 and 2, the second one erased, the first one read.
  check({make_node("SplitToSequence", {"x", "four"}, {"s"}, {int_attr("axis", -1)}), make_node("SequenceErase", {"s"}, {"s1"}),
         make_node("ConcatFromSequence", {"s1"}, {"y0"}, {int_attr("axis", 0)})},
        {x, position("four", 4)}, {"y0"});
  // A list along axis 0; only the second part is used.
  check({make_node("SplitToSequence", {"x", "sizes"}, {"s"}, {int_attr("axis", 0)}), make_node("SequenceAt", {"s", "p1"}, {"y0"})},
        {x, {"sizes", Tensor::from_vector<int64_t>({2}, {1, 3}), Role::kConstant}, position("p1", 1)}, {"y0"});
}

TEST_CASE("grad sequence: Optional and OptionalGetElement of a tensor and of a sequence, and OptionalHasElement") {
  check({make_node("Optional", {"w"}, {"o"}), make_node("OptionalGetElement", {"o"}, {"v"}), make_node("Mul", {"v", "k"}, {"y0"}),
         make_node("OptionalHasElement", {"o"}, {"y1"})},
        {weight("w", {2, 3}, 1), weight("k", {2, 3}, 2)}, {"y0", "y1"});
  check({make_node("SequenceConstruct", {"a", "b"}, {"s"}), make_node("Optional", {"s"}, {"o"}),
         make_node("OptionalGetElement", {"o"}, {"s2"}), make_node("ConcatFromSequence", {"s2"}, {"y0"}, {int_attr("axis", 0)})},
        {weight("a", {1, 2}, 1), weight("b", {3, 2}, 2)}, {"y0"});
  // Opset 18: OptionalGetElement of a plain tensor passes it through.
  check({make_node("OptionalGetElement", {"w"}, {"v"}), make_node("Tanh", {"v"}, {"y0"})}, {weight("w", {5}, 3)}, {"y0"});
}

TEST_CASE("grad sequence: Identity of a sequence, and SequenceLength carries no gradient") {
  check({make_node("SequenceConstruct", {"a", "b"}, {"s"}), make_node("Identity", {"s"}, {"s2"}),
         make_node("SequenceLength", {"s2"}, {"n"}), make_node("Cast", {"n"}, {"nf"}, {int_attr("to", 1)}),
         make_node("ConcatFromSequence", {"s2"}, {"c"}, {int_attr("axis", 0)}), make_node("Mul", {"c", "nf"}, {"y0"})},
        {weight("a", {2, 2}, 1), weight("b", {1, 2}, 2)}, {"y0"});
}

TEST_CASE("grad sequence: contributions to one sequence add up, elements without one stay zero") {
  // s is read by two SequenceAt of the same element, a ConcatFromSequence and an Identity.
  check({make_node("SequenceConstruct", {"a", "b", "c"}, {"s"}), make_node("SequenceAt", {"s", "p1"}, {"y0"}),
         make_node("SequenceAt", {"s", "m2"}, {"y1"}), make_node("Identity", {"s"}, {"s2"}),
         make_node("SequenceErase", {"s2", "p0"}, {"s3"}), make_node("ConcatFromSequence", {"s3"}, {"y2"}, {int_attr("axis", 0)})},
        {weight("a", {2, 2}, 1), weight("b", {2, 2}, 2), weight("c", {2, 2}, 3), position("p1", 1), position("m2", -2),
         position("p0", 0)},
        {"y0", "y1", "y2"});
}

TEST_CASE("grad sequence: a sequence op given a tensor stops, naming the node") {
  const std::vector<TestInput> inputs = {weight("w", {2, 2}, 1), position("p0", 0)};
  ir::Model m = make_graph_model({make_node("SequenceAt", {"w", "p0"}, {"y0"})}, inputs, {"y0"}, kOpset);
  runtime::grad::GradientOptions go;
  go.parameters = {"w"};
  auto bi = runtime::grad::BackwardInterpreter::create(m, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  auto out = (*bi)->forward({});
  REQUIRE(!out.ok());
  CHECK(out.status().code() == StatusCode::kInvalidInput);
  CHECK(out.status().message().find("n_SequenceAt_y0") != std::string::npos);
}

}  // namespace ember

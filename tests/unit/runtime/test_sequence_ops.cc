// The sequence operators through the interpreter (ONNX reference semantics, the examples
// worked by hand), and the bad inputs they must reject naming the node: a tensor where a
// sequence belongs and the reverse, positions out of range, parts that do not fit, and a
// sequence longer than the memory limits allow.
#include <doctest/doctest.h>

#include "ir/memory_limits.h"
#include "tests/unit/runtime/sequence_test_util.h"

namespace ember::sequence_test {
namespace {

using test::int_attr;
using test::node;

}  // namespace

TEST_CASE("SequenceConstruct, SequenceInsert, SequenceAt, SequenceErase and SequenceLength") {
  // s = [a, b]; s2 = insert(s, c, 0) = [c, a, b]; at = s2[-1] = b; s3 = erase(s2) = [c, a];
  // s4 = erase(s2, 1) = [c, b]; s5 = insert(s2, a) (at the back) = [c, a, b, a].
  ir::Model m = model({node("SequenceConstruct", "make", {"a", "b"}, {"s"}), node("SequenceInsert", "front", {"s", "c", "zero"}, {"s2"}),
                       node("SequenceAt", "last", {"s2", "minus_one"}, {"at"}), node("SequenceErase", "pop", {"s2"}, {"s3"}),
                       node("SequenceErase", "drop1", {"s2", "one"}, {"s4"}), node("SequenceInsert", "back", {"s2", "a"}, {"s5"}),
                       node("SequenceLength", "len", {"s5"}, {"n"})},
                      {{"a", DType::kF32}, {"b", DType::kF32}, {"c", DType::kF32}, {"zero", DType::kI64}, {"minus_one", DType::kI32}, {"one", DType::kI64}},
                      {"s2", "at", "s3", "s4", "s5", "n"});
  auto out = run(m, {{"a", f32({2}, {1, 2})}, {"b", f32({1}, {3})}, {"c", f32({3}, {4, 5, 6})},
                     {"zero", Tensor::scalar<int64_t>(0)}, {"minus_one", Tensor::scalar<int32_t>(-1)}, {"one", Tensor::scalar<int64_t>(1)}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  REQUIRE((*out)[0].is_sequence());
  CHECK(contents((*out)[0]) == std::vector<std::vector<float>>{{4, 5, 6}, {1, 2}, {3}});
  REQUIRE((*out)[1].is_tensor());
  CHECK(floats((*out)[1].tensor()) == std::vector<float>{3});
  CHECK(contents((*out)[2]) == std::vector<std::vector<float>>{{4, 5, 6}, {1, 2}});
  CHECK(contents((*out)[3]) == std::vector<std::vector<float>>{{4, 5, 6}, {3}});
  CHECK(contents((*out)[4]) == std::vector<std::vector<float>>{{4, 5, 6}, {1, 2}, {3}, {1, 2}});
  CHECK((*out)[5].tensor().data<int64_t>()[0] == 4);
  CHECK((*out)[0].elem_type() == DType::kF32);
}

TEST_CASE("SequenceEmpty keeps its dtype, a sequence is fed and returned by run_values") {
  ir::Model m = model({node("SequenceEmpty", "empty", {}, {"e"}, {int_attr("dtype", 7)}), node("SequenceLength", "len", {"e"}, {"n"}),
                       node("SequenceInsert", "add", {"fed", "x"}, {"grown"})},
                      {{"x", DType::kF32}}, {"e", "n", "grown"}, {"fed"});
  auto out = run(m, {{"x", f32({1}, {9})}, {"fed", Value::sequence(DType::kF32, {f32({2}, {1, 2})})}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK((*out)[0].is_sequence());
  CHECK((*out)[0].elem_type() == DType::kI64);
  CHECK((*out)[0].elements().empty());
  CHECK((*out)[1].tensor().data<int64_t>()[0] == 0);
  CHECK(contents((*out)[2]) == std::vector<std::vector<float>>{{1, 2}, {9}});
}

TEST_CASE("SplitToSequence: parts of 1 (keepdims 0), a scalar split with a short last part, a 1-D split") {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  ir::Model m = model({node("SplitToSequence", "ones", {"x"}, {"cols"}, {int_attr("axis", 1), int_attr("keepdims", 0)}),
                       node("SplitToSequence", "chunks", {"x", "two"}, {"chunks"}, {int_attr("axis", -1), int_attr("keepdims", 0)}),
                       node("SplitToSequence", "sizes", {"x", "sizes"}, {"rows"})},
                      {{"x", DType::kF32}, {"two", DType::kI64}, {"sizes", DType::kI64}}, {"cols", "chunks", "rows"});
  auto out = run(m, {{"x", x}, {"two", Tensor::scalar<int64_t>(2)}, {"sizes", Tensor::from_vector<int64_t>({2}, {0, 2})}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK(contents((*out)[0]) == std::vector<std::vector<float>>{{1, 4}, {2, 5}, {3, 6}});
  CHECK((*out)[0].elements()[0].shape() == Shape{2});
  // A given split ignores keepdims: the axis stays.
  CHECK(contents((*out)[1]) == std::vector<std::vector<float>>{{1, 2, 4, 5}, {3, 6}});
  CHECK((*out)[1].elements()[0].shape() == Shape{2, 2});
  CHECK((*out)[1].elements()[1].shape() == Shape{2, 1});
  REQUIRE((*out)[2].elements().size() == 2);
  CHECK((*out)[2].elements()[0].shape() == Shape{0, 3});
  CHECK(floats((*out)[2].elements()[1]) == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("ConcatFromSequence joins along an axis, or stacks along a new one (new_axis = 1)") {
  ir::Model m = model({node("ConcatFromSequence", "cat", {"s"}, {"cat"}, {int_attr("axis", 1)}),
                       node("ConcatFromSequence", "stack", {"s"}, {"stacked"}, {int_attr("axis", -1), int_attr("new_axis", 1)})},
                      {}, {"cat", "stacked"}, {"s"});
  auto out = run(m, {{"s", Value::sequence(DType::kF32, {f32({2, 1}, {1, 2}), f32({2, 1}, {3, 4})})}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK((*out)[0].tensor().shape() == Shape{2, 2});
  CHECK(floats((*out)[0].tensor()) == std::vector<float>{1, 3, 2, 4});
  CHECK((*out)[1].tensor().shape() == Shape{2, 1, 2});
  CHECK(floats((*out)[1].tensor()) == std::vector<float>{1, 3, 2, 4});
  // Split then concat along the same axis gives the input back.
  ir::Model round = model({node("SplitToSequence", "split", {"x", "two"}, {"parts"}, {int_attr("axis", 0)}),
                           node("ConcatFromSequence", "join", {"parts"}, {"y"}, {int_attr("axis", 0)})},
                          {{"x", DType::kF32}, {"two", DType::kI64}}, {"y"});
  const Tensor x = f32({5, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  auto back = run(round, {{"x", x}, {"two", Tensor::scalar<int64_t>(2)}});
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  CHECK((*back)[0].tensor().same_content(x));
}

TEST_CASE("SequenceMap: the body runs per element, with a tensor input and an outer-scope value") {
  // out[i] = s[i] + t + k, with t a tensor input of the node and k read from the outer graph.
  ir::Node map = node("SequenceMap", "map", {"s", "t"}, {"out"});
  map.attributes.push_back(graph_attr("body", body({node("Add", "add", {"e", "t_in"}, {"u"}), node("Add", "add_k", {"u", "k"}, {"v"})},
                                                   {"e", "t_in"}, {"v"})));
  ir::Model m = model({map}, {{"t", DType::kF32}, {"k", DType::kF32}}, {"out"}, {"s"});
  auto out = run(m, {{"s", Value::sequence(DType::kF32, {f32({2}, {1, 2}), f32({1}, {5})})}, {"t", f32({1}, {10})}, {"k", f32({1}, {100})}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK(contents((*out)[0]) == std::vector<std::vector<float>>{{111, 112}, {115}});
}

TEST_CASE("Loop carries a sequence: SequenceInsert in the body grows it each iteration") {
  // body(i, c, s) -> (c, insert(s, i_as_float)); three iterations from an empty sequence.
  ir::Node loop = node("Loop", "loop", {"M", "", "s0"}, {"s"});
  loop.attributes.push_back(graph_attr(
      "body", body({node("Identity", "keep", {"c_in"}, {"c_out"}), node("Cast", "f", {"i"}, {"fi"}, {int_attr("to", 1)}),
                    node("SequenceInsert", "grow", {"s_in", "fi"}, {"s_out"})},
                   {"i", "c_in", "s_in"}, {"c_out", "s_out"})));
  ir::Model m = model({node("SequenceEmpty", "empty", {}, {"s0"}), loop}, {{"M", DType::kI64}}, {"s"});
  auto out = run(m, {{"M", Tensor::scalar<int64_t>(3)}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK(contents((*out)[0]) == std::vector<std::vector<float>>{{0}, {1}, {2}});
}

TEST_CASE("Sequence ops reject a tensor, and tensor ops a sequence, naming the node") {
  ir::Model at_tensor = model({node("SequenceAt", "pick", {"x", "zero"}, {"y"})}, {{"x", DType::kF32}, {"zero", DType::kI64}}, {"y"});
  auto bad = run(at_tensor, {{"x", f32({2}, {1, 2})}, {"zero", Tensor::scalar<int64_t>(0)}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidInput);
  CHECK(bad.status().message().find("node 'pick' (SequenceAt)") != std::string::npos);
  CHECK(bad.status().message().find("must be a sequence") != std::string::npos);

  ir::Model add_seq = model({node("SequenceConstruct", "make", {"x"}, {"s"}), node("Add", "plus", {"s", "x"}, {"y"})}, {{"x", DType::kF32}}, {"y"});
  auto mixed = run(add_seq, {{"x", f32({2}, {1, 2})}});
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.status().code() == StatusCode::kInvalidInput);
  CHECK(mixed.status().message().find("node 'plus' (Add)") != std::string::npos);
  CHECK(mixed.status().message().find("sequence") != std::string::npos);

  // A tensor fed where the graph declares a sequence; a sequence output asked through run().
  ir::Model len = model({node("SequenceLength", "len", {"s"}, {"n"})}, {}, {"n"}, {"s"});
  auto fed = run(len, {{"s", f32({1}, {1})}});
  REQUIRE_FALSE(fed.ok());
  CHECK(fed.status().message().find("input 's' expects a sequence or an optional") != std::string::npos);
  ir::Model only_seq = model({node("SequenceConstruct", "make", {"x"}, {"s"})}, {{"x", DType::kF32}}, {"s"});
  auto seq_interp = runtime::Interpreter::create(only_seq);
  REQUIRE(seq_interp.ok());
  auto as_tensor = (*seq_interp)->run({{"x", f32({1}, {1})}});
  REQUIRE_FALSE(as_tensor.ok());
  CHECK(as_tensor.status().message().find("value 's' is a sequence of 1 f32 tensors, and this caller takes tensors only") != std::string::npos);
}

TEST_CASE("Sequence positions, parts and types out of range are invalid input naming the node") {
  const Value two = Value::sequence(DType::kF32, {f32({1}, {1}), f32({1}, {2})});
  auto one_op = [&](ir::Node n, std::map<std::string, Value> feeds, std::vector<std::pair<std::string, DType>> tensors) {
    return run(model({std::move(n)}, tensors, {"y"}, {"s"}), feeds);
  };
  auto at = one_op(node("SequenceAt", "at2", {"s", "p"}, {"y"}), {{"s", two}, {"p", Tensor::scalar<int64_t>(2)}}, {{"p", DType::kI64}});
  REQUIRE_FALSE(at.ok());
  CHECK(at.status().message().find("node 'at2' (SequenceAt): position 2 is outside [-2, 1]") != std::string::npos);
  auto ins = one_op(node("SequenceInsert", "ins", {"s", "x", "p"}, {"y"}),
                    {{"s", two}, {"x", f32({1}, {0})}, {"p", Tensor::scalar<int64_t>(-3)}}, {{"x", DType::kF32}, {"p", DType::kI64}});
  REQUIRE_FALSE(ins.ok());
  CHECK(ins.status().message().find("position -3 is outside [-2, 2]") != std::string::npos);
  auto typed = one_op(node("SequenceInsert", "ins_i", {"s", "x"}, {"y"}), {{"s", two}, {"x", Tensor::scalar<int64_t>(1)}}, {{"x", DType::kI64}});
  REQUIRE_FALSE(typed.ok());
  CHECK(typed.status().message().find("the sequence holds f32 tensors") != std::string::npos);
  auto erase_empty = one_op(node("SequenceErase", "pop", {"s"}, {"y"}), {{"s", Value::sequence(DType::kF32, {})}}, {});
  REQUIRE_FALSE(erase_empty.ok());
  CHECK(erase_empty.status().message().find("node 'pop' (SequenceErase): cannot erase from an empty sequence") != std::string::npos);
  auto concat_bad = one_op(node("ConcatFromSequence", "cat", {"s"}, {"y"}, {int_attr("axis", 0), int_attr("new_axis", 1)}),
                           {{"s", Value::sequence(DType::kF32, {f32({1}, {1}), f32({2}, {1, 2})})}}, {});
  REQUIRE_FALSE(concat_bad.ok());
  CHECK(concat_bad.status().message().find("node 'cat' (ConcatFromSequence): tensor 1") != std::string::npos);
  auto concat_empty = one_op(node("ConcatFromSequence", "cat0", {"s"}, {"y"}, {int_attr("axis", 0)}), {{"s", Value::sequence(DType::kF32, {})}}, {});
  REQUIRE_FALSE(concat_empty.ok());
  CHECK(concat_empty.status().message().find("empty") != std::string::npos);
  ir::Model split = model({node("SplitToSequence", "cut", {"x", "sizes"}, {"y"})}, {{"x", DType::kF32}, {"sizes", DType::kI64}}, {"y"});
  auto sum_bad = run(split, {{"x", f32({3}, {1, 2, 3})}, {"sizes", Tensor::from_vector<int64_t>({2}, {1, 1})}});
  REQUIRE_FALSE(sum_bad.ok());
  CHECK(sum_bad.status().message().find("node 'cut' (SplitToSequence): split adds up to 2, the axis has 3") != std::string::npos);
}

TEST_CASE("A sequence longer than the memory limits allow is refused with the cap in the message") {
  const MemoryLimits saved = memory_limits();
  MemoryLimits tight = saved;
  tight.max_sequence_length = 4;
  set_memory_limits(tight);
  // A [10, 0] tensor holds no bytes, but splitting it makes 10 tensors.
  ir::Model split = model({node("SplitToSequence", "many", {"x"}, {"y"})}, {{"x", DType::kF32}}, {"y"});
  auto many = run(split, {{"x", Tensor::zeros(DType::kF32, {10, 0})}});
  // A Loop inserting into a sequence until it passes the cap.
  ir::Node loop = node("Loop", "grow_loop", {"M", "", "s0"}, {"s"});
  loop.attributes.push_back(graph_attr("body", body({node("Identity", "keep", {"c_in"}, {"c_out"}),
                                                     node("SequenceInsert", "grow", {"s_in", "x"}, {"s_out"})},
                                                    {"i", "c_in", "s_in"}, {"c_out", "s_out"})));
  ir::Model grow = model({node("SequenceEmpty", "empty", {}, {"s0"}), loop}, {{"M", DType::kI64}, {"x", DType::kF32}}, {"s"});
  auto grown = run(grow, {{"M", Tensor::scalar<int64_t>(100)}, {"x", f32({1}, {1})}});
  set_memory_limits(saved);
  REQUIRE_FALSE(many.ok());
  CHECK(many.status().code() == StatusCode::kInvalidInput);
  CHECK(many.status().message().find("node 'many' (SplitToSequence)") != std::string::npos);
  CHECK(many.status().message().find("above the cap of 4") != std::string::npos);
  REQUIRE_FALSE(grown.ok());
  CHECK(grown.status().message().find("node 'grow' (SequenceInsert)") != std::string::npos);
  CHECK(grown.status().message().find("5 sequence steps asked, above the cap of 4") != std::string::npos);
}

}  // namespace ember::sequence_test

// Nested sequences (sequence(sequence(tensor))) and the declared types of non-tensor graph
// inputs: a model passes a nested sequence from its input to its output; every operator
// refuses one naming the node (ONNX types them seq(tensor) at most); feeds are checked
// against the declared type and the sequence-length cap; Scan carries tensors only.
#include <doctest/doctest.h>

#include "ir/memory_limits.h"
#include "tests/unit/runtime/sequence_test_util.h"
#include "tests/unit/sequence_type_util.h"

namespace ember::sequence_test {
namespace {

using test::node;

Value nested(size_t outer) {
  std::vector<Value> items;
  for (size_t i = 0; i < outer; ++i) items.push_back(Value::sequence(DType::kF32, {f32({1}, {float(i)}), f32({2}, {1, 2})}));
  return Value::nested_sequence(2, DType::kF32, std::move(items));
}

// A model with one input `s` declared `depth` deep and `nodes`; outputs untyped.
ir::Model nested_model(std::vector<ir::Node> nodes, const std::vector<std::string>& outputs, int depth = 2) {
  ir::Model m = test::empty_model(18);
  m.graph.nodes = std::move(nodes);
  m.graph.inputs.push_back(test::sequence_value_info("s", depth));
  for (const auto& out : outputs) m.graph.outputs.push_back(test::value_info(out, DType::kUndefined));
  return m;
}

std::string message_of(const Result<std::vector<Value>>& r) { return r.ok() ? std::string("(ok)") : r.status().message(); }

}  // namespace

TEST_CASE("A model returns the nested sequence it is given, and its length") {
  ir::Model m = nested_model({}, {"s"});
  auto out = run(m, {{"s", nested(3)}});
  REQUIRE_MESSAGE(out.ok(), message_of(out));
  REQUIRE(out->size() == 1);
  const Value& v = (*out)[0];
  CHECK(v.type_string() == "seq(seq(tensor(f32)))");
  REQUIRE(v.length() == 3);
  CHECK(v.items()[2].elements()[0].data<float>()[0] == 2.0f);
  // An optional input declared optional(seq(seq(f32))) takes the nested sequence, wrapped.
  ir::Model opt = test::empty_model(18);
  opt.graph.inputs.push_back(test::sequence_value_info("o", 2, true));
  opt.graph.outputs.push_back(test::value_info("o", DType::kUndefined));
  auto wrapped = run(opt, {{"o", nested(1)}});
  REQUIRE_MESSAGE(wrapped.ok(), message_of(wrapped));
  CHECK((*wrapped)[0].type_string() == "optional(seq(seq(tensor(f32))))");
}

TEST_CASE("Operators refuse a nested sequence naming the node: ONNX types their values seq(tensor) at most") {
  const std::string why = "never a sequence of sequences";
  auto identity = run(nested_model({node("Identity", "pass", {"s"}, {"y"})}, {"y"}), {{"s", nested(2)}});
  CHECK(message_of(identity).find("node 'pass' (Identity): input 0 ('s') is a sequence of 2 sequences of f32 tensors "
                                  "(seq(seq(tensor(f32))))") != std::string::npos);
  CHECK(message_of(identity).find(why) != std::string::npos);
  CHECK(identity.status().code() == StatusCode::kInvalidInput);
  auto insert = run(nested_model({node("SequenceInsert", "grow", {"s", "s"}, {"y"})}, {"y"}), {{"s", nested(1)}});
  CHECK(message_of(insert).find("node 'grow' (SequenceInsert): input 0 ('s')") != std::string::npos);
  auto length = run(nested_model({node("SequenceLength", "count", {"s"}, {"y"})}, {"y"}), {{"s", nested(1)}});
  CHECK(message_of(length).find("node 'count' (SequenceLength)") != std::string::npos);
  auto wrap = run(nested_model({node("Optional", "wrap", {"s"}, {"y"})}, {"y"}), {{"s", nested(1)}});
  CHECK(message_of(wrap).find("node 'wrap' (Optional)") != std::string::npos);
  // An If branch handing out an outer-scope nested sequence.
  ir::Node choose = node("If", "choose", {"c"}, {"y"});
  choose.attributes.push_back(graph_attr("then_branch", body({}, {}, {"s"})));
  choose.attributes.push_back(graph_attr("else_branch", body({}, {}, {"s"})));
  ir::Model with_if = nested_model({choose}, {"y"});
  with_if.graph.inputs.push_back(test::value_info("c", DType::kBool));
  Tensor yes = Tensor::zeros(DType::kBool, {});
  yes.mutable_data<uint8_t>()[0] = 1;
  auto branched = run(with_if, {{"s", nested(1)}, {"c", yes}});
  CHECK(message_of(branched).find("node 'choose' (If): output 0 ('y') is a sequence of 1 sequences") != std::string::npos);
  // A Loop carrying one.
  ir::Node loop = node("Loop", "carry", {"M", "", "s"}, {"y"});
  loop.attributes.push_back(graph_attr("body", body({node("Identity", "keep", {"c_in"}, {"c_out"})}, {"i", "c_in", "s_in"}, {"c_out", "s_in"})));
  ir::Model with_loop = nested_model({loop}, {"y"});
  with_loop.graph.inputs.push_back(test::value_info("M", DType::kI64));
  auto looped = run(with_loop, {{"s", nested(1)}, {"M", Tensor::scalar<int64_t>(2)}});
  CHECK(message_of(looped).find("node 'carry' (Loop): input 2 ('s')") != std::string::npos);
}

TEST_CASE("Feeds are checked against the declared type and the sequence-length cap, naming the input") {
  ir::Model m = nested_model({}, {"s"});
  auto tensor = run(m, {{"s", f32({2}, {1, 2})}});
  CHECK(message_of(tensor).find("input 's' expects seq(seq(tensor(f32))), got a tensor f32 [2]") != std::string::npos);
  auto flat = run(m, {{"s", Value::sequence(DType::kF32, {f32({1}, {1})})}});
  CHECK(message_of(flat).find("input 's' expects seq(seq(tensor(f32))), got a sequence of 1 f32 tensors (seq(tensor(f32)))") !=
        std::string::npos);
  auto ints = run(nested_model({}, {"s"}, 1), {{"s", Value::sequence(DType::kI64, {test::i64s({1})})}});
  CHECK(message_of(ints).find("input 's' expects seq(tensor(f32)), got a sequence of 1 i64 tensors") != std::string::npos);
  auto optional = run(m, {{"s", Value::some(nested(1))}});
  CHECK(message_of(optional).find("input 's' expects seq(seq(tensor(f32))), got a optional") != std::string::npos);

  const MemoryLimits saved = memory_limits();
  MemoryLimits tight = saved;
  tight.max_sequence_length = 2;
  set_memory_limits(tight);
  auto outer_long = run(m, {{"s", nested(3)}});
  std::vector<Value> inner_long = {Value::sequence(DType::kF32, {f32({1}, {1}), f32({1}, {2}), f32({1}, {3})})};
  auto inner = run(m, {{"s", Value::nested_sequence(2, DType::kF32, inner_long)}});
  set_memory_limits(saved);
  CHECK(message_of(outer_long).find("input 's': 3 sequence steps asked, above the cap of 2") != std::string::npos);
  CHECK(message_of(inner).find("input 's': 3 sequence steps asked, above the cap of 2") != std::string::npos);
}

TEST_CASE("Scan carries tensors only (ONNX types Scan's V as tensors): a sequence state or scan output is refused naming the node") {
  // Scan(state s, scan input x): body(s_in, x_t) -> (s_out, y_t).
  ir::Node scan = node("Scan", "scan", {"s", "x"}, {"s_final", "ys"});
  scan.attributes.push_back(test::int_attr("num_scan_inputs", 1));
  scan.attributes.push_back(graph_attr("body", body({node("Identity", "keep", {"s_in"}, {"s_out"}), node("Identity", "copy", {"x_t"}, {"y_t"})},
                                                    {"s_in", "x_t"}, {"s_out", "y_t"})));
  ir::Model m = model({scan}, {{"x", DType::kF32}}, {"s_final", "ys"}, {"s"});
  auto state = run(m, {{"s", Value::sequence(DType::kF32, {f32({1}, {1})})}, {"x", f32({2, 1}, {1, 2})}});
  CHECK(message_of(state).find("node 'scan' (Scan): input 0 ('s') is a sequence of 1 f32 tensors; Scan carries tensors only") !=
        std::string::npos);
  // The body makes a sequence as its scan output.
  ir::Node scan2 = node("Scan", "scan2", {"x"}, {"ys"});
  scan2.attributes.push_back(test::int_attr("num_scan_inputs", 1));
  scan2.attributes.push_back(graph_attr("body", body({node("SequenceConstruct", "make", {"x_t"}, {"y_t"})}, {"x_t"}, {"y_t"})));
  auto made = run(model({scan2}, {{"x", DType::kF32}}, {"ys"}), {{"x", f32({2, 1}, {1, 2})}});
  CHECK(message_of(made).find("node 'scan2' (Scan)") != std::string::npos);
  CHECK(message_of(made).find("the body's output 0 ('y_t') is a sequence of 1 f32 tensors; Scan carries tensors") != std::string::npos);
  // Its body may read an outer-scope sequence (only Scan's own values are typed tensors):
  // y_t = x_t + concat(outer).
  ir::Node concat = node("ConcatFromSequence", "join", {"outer"}, {"c"});
  concat.attributes.push_back(test::int_attr("axis", 0));
  ir::Node scan3 = node("Scan", "scan3", {"x"}, {"ys"});
  scan3.attributes.push_back(test::int_attr("num_scan_inputs", 1));
  scan3.attributes.push_back(graph_attr("body", body({concat, node("Add", "add", {"x_t", "c"}, {"y_t"})}, {"x_t"}, {"y_t"})));
  auto read = run(model({scan3}, {{"x", DType::kF32}}, {"ys"}, {"outer"}),
                  {{"x", f32({2, 1}, {1, 2})}, {"outer", Value::sequence(DType::kF32, {f32({1}, {10})})}});
  REQUIRE_MESSAGE(read.ok(), message_of(read));
  CHECK(floats((*read)[0].tensor()) == std::vector<float>{11, 12});
}

}  // namespace ember::sequence_test

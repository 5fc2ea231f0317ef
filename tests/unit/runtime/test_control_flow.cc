// If / Loop / Scan with outer-scope values, and the bad inputs they must reject naming the
// node: a subgraph reading an undefined value, negative or absurd trip counts; Resize given
// both scales and sizes.
#include <doctest/doctest.h>

#include <memory>

#include "runtime/interpreter.h"
#include "ir/memory_limits.h"
#include "tests/unit/test_support.h"

namespace ember::control_flow_test {
namespace {

using test::value_info;

ir::Attribute graph_attr(const std::string& name, ir::Graph g) {
  ir::Attribute a;
  a.name = name;
  a.kind = ir::AttrKind::kGraph;
  a.g = std::make_shared<ir::Graph>(std::move(g));
  return a;
}

ir::Graph body(std::vector<ir::Node> nodes, std::vector<std::string> inputs, std::vector<std::string> outputs) {
  ir::Graph g;
  g.name = "body";
  g.nodes = std::move(nodes);
  for (const auto& in : inputs) g.inputs.push_back(value_info(in, DType::kUndefined));
  for (const auto& out : outputs) g.outputs.push_back(value_info(out, DType::kUndefined));
  return g;
}

ir::Model model(std::vector<ir::Node> nodes, std::vector<std::pair<std::string, DType>> feeds, std::vector<std::string> outputs) {
  ir::Model m = test::empty_model(17);
  m.graph.nodes = std::move(nodes);
  for (const auto& [name, t] : feeds) m.graph.inputs.push_back(value_info(name, t));
  for (const auto& out : outputs) m.graph.outputs.push_back(value_info(out, DType::kUndefined));
  return m;
}

Tensor boolean(bool v) {
  Tensor t = Tensor::zeros(DType::kBool, {});
  t.mutable_data<uint8_t>()[0] = v;
  return t;
}

std::vector<float> floats(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }

}  // namespace

TEST_CASE("If: the taken branch runs, reading values of the enclosing graph") {
  // y = cond ? a + b : a - b, with a and b read from the outer scope.
  ir::Node node = test::node("If", "choose", {"cond"}, {"y"});
  node.attributes.push_back(graph_attr("then_branch", body({test::node("Add", "add", {"a", "b"}, {"t"})}, {}, {"t"})));
  node.attributes.push_back(graph_attr("else_branch", body({test::node("Sub", "sub", {"a", "b"}, {"e"})}, {}, {"e"})));
  ir::Model m = model({node}, {{"cond", DType::kBool}, {"a", DType::kF32}, {"b", DType::kF32}}, {"y"});
  auto interp = runtime::Interpreter::create(m);
  REQUIRE_MESSAGE(interp.ok(), interp.status().message());
  const Tensor a = Tensor::from_vector<float>({2}, {5, 7}), b = Tensor::from_vector<float>({2}, {1, 2});
  auto yes = (*interp)->run({{"cond", boolean(true)}, {"a", a}, {"b", b}});
  REQUIRE(yes.ok());
  CHECK(floats((*yes)[0]) == std::vector<float>{6, 9});
  auto no = (*interp)->run({{"cond", boolean(false)}, {"a", a}, {"b", b}});
  REQUIRE(no.ok());
  CHECK(floats((*no)[0]) == std::vector<float>{4, 5});
}

TEST_CASE("Loop: carried sum and a scan output over M iterations, and Scan: a running sum") {
  // body(i, c, s) -> (c, s + x, s + x): x from the outer scope.
  ir::Node loop = test::node("Loop", "loop", {"M", "", "s0"}, {"s", "trace"});
  loop.attributes.push_back(graph_attr(
      "body", body({test::node("Add", "acc", {"s_in", "x"}, {"s_out"}), test::node("Identity", "keep", {"c_in"}, {"c_out"}),
                    test::node("Identity", "scan", {"s_out"}, {"t_out"})},
                   {"i", "c_in", "s_in"}, {"c_out", "s_out", "t_out"})));
  ir::Model m = model({loop}, {{"M", DType::kI64}, {"s0", DType::kF32}, {"x", DType::kF32}}, {"s", "trace"});
  auto interp = runtime::Interpreter::create(m);
  REQUIRE_MESSAGE(interp.ok(), interp.status().message());
  auto out = (*interp)->run({{"M", Tensor::scalar<int64_t>(3)}, {"s0", Tensor::from_vector<float>({1}, {0})},
                             {"x", Tensor::from_vector<float>({1}, {2})}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK(floats((*out)[0]) == std::vector<float>{6});
  CHECK((*out)[1].shape() == Shape{3, 1});
  CHECK(floats((*out)[1]) == std::vector<float>{2, 4, 6});

  SUBCASE("a negative or absurd trip count is rejected naming the node, with the limit") {
    auto negative = (*interp)->run({{"M", Tensor::scalar<int64_t>(-1)}, {"s0", Tensor::from_vector<float>({1}, {0})},
                                    {"x", Tensor::from_vector<float>({1}, {2})}});
    CHECK(negative.status().code() == StatusCode::kInvalidInput);
    CHECK(negative.status().message().find("'loop'") != std::string::npos);
    auto absurd = (*interp)->run({{"M", Tensor::scalar<int64_t>(int64_t(1) << 50)}, {"s0", Tensor::from_vector<float>({1}, {0})},
                                  {"x", Tensor::from_vector<float>({1}, {2})}});
    CHECK(absurd.status().code() == StatusCode::kInvalidInput);
    CHECK(absurd.status().message().find(std::to_string(memory_limits().max_loop_iterations)) != std::string::npos);
    CHECK(absurd.status().message().find(std::to_string(int64_t(1) << 50) + " loop iterations asked") != std::string::npos);
  }

  // Scan over the rows of xs: state += row, output the state after each row.
  ir::Node scan = test::node("Scan", "scan", {"init", "xs"}, {"final", "partial"}, {test::int_attr("num_scan_inputs", 1)});
  scan.attributes.push_back(graph_attr("body", body({test::node("Add", "add", {"st", "row"}, {"st2"}),
                                                     test::node("Identity", "copy", {"st2"}, {"out"})},
                                                    {"st", "row"}, {"st2", "out"})));
  ir::Model sm = model({scan}, {{"init", DType::kF32}, {"xs", DType::kF32}}, {"final", "partial"});
  auto si = runtime::Interpreter::create(sm);
  REQUIRE_MESSAGE(si.ok(), si.status().message());
  auto so = (*si)->run({{"init", Tensor::from_vector<float>({2}, {0, 0})}, {"xs", Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6})}});
  REQUIRE_MESSAGE(so.ok(), so.status().message());
  CHECK(floats((*so)[0]) == std::vector<float>{9, 12});
  CHECK(floats((*so)[1]) == std::vector<float>{1, 2, 4, 6, 9, 12});
}

TEST_CASE("Loop iterations and Scan lengths are capped by MemoryLimits, naming the node and the count") {
  struct Restore {
    MemoryLimits saved = memory_limits();
    ~Restore() { set_memory_limits(saved); }
  } restore;
  MemoryLimits small = restore.saved;
  small.max_loop_iterations = 5;
  small.max_sequence_length = 4;
  set_memory_limits(small);
  // A Loop whose condition never turns false: stopped at the cap, not spinning.
  ir::Node forever = test::node("Loop", "forever", {"", "c0", "s0"}, {"s"});
  forever.attributes.push_back(graph_attr(
      "body", body({test::node("Identity", "keep", {"c_in"}, {"c_out"}), test::node("Identity", "same", {"s_in"}, {"s_out"})},
                   {"i", "c_in", "s_in"}, {"c_out", "s_out"})));
  auto loop = runtime::Interpreter::create(model({forever}, {{"c0", DType::kBool}, {"s0", DType::kF32}}, {"s"}));
  REQUIRE_MESSAGE(loop.ok(), loop.status().message());
  auto spun = (*loop)->run({{"c0", boolean(true)}, {"s0", Tensor::from_vector<float>({1}, {0})}});
  CHECK(spun.status().code() == StatusCode::kInvalidInput);
  CHECK(spun.status().message().find("'forever'") != std::string::npos);
  CHECK(spun.status().message().find("6 loop iterations asked, above the cap of 5") != std::string::npos);
  // Scan over 6 rows with a cap of 4 steps; 4 rows pass.
  ir::Node scan = test::node("Scan", "rows", {"init", "xs"}, {"final"}, {test::int_attr("num_scan_inputs", 1)});
  scan.attributes.push_back(graph_attr("body", body({test::node("Add", "add", {"st", "row"}, {"st2"})}, {"st", "row"}, {"st2"})));
  auto sc = runtime::Interpreter::create(model({scan}, {{"init", DType::kF32}, {"xs", DType::kF32}}, {"final"}));
  REQUIRE_MESSAGE(sc.ok(), sc.status().message());
  auto too_long = (*sc)->run({{"init", Tensor::from_vector<float>({1}, {0})}, {"xs", Tensor::zeros(DType::kF32, {6, 1})}});
  CHECK(too_long.status().code() == StatusCode::kInvalidInput);
  CHECK(too_long.status().message().find("'rows'") != std::string::npos);
  CHECK(too_long.status().message().find("6 sequence steps asked, above the cap of 4") != std::string::npos);
  CHECK((*sc)->run({{"init", Tensor::from_vector<float>({1}, {0})}, {"xs", Tensor::zeros(DType::kF32, {4, 1})}}).ok());
}

TEST_CASE("a subgraph reading a value no enclosing graph defines is an input error naming the node") {
  ir::Node node = test::node("If", "bad_if", {"cond"}, {"y"});
  node.attributes.push_back(graph_attr("then_branch", body({test::node("Identity", "i", {"nowhere"}, {"t"})}, {}, {"t"})));
  node.attributes.push_back(graph_attr("else_branch", body({test::node("Identity", "j", {"cond"}, {"e"})}, {}, {"e"})));
  auto interp = runtime::Interpreter::create(model({node}, {{"cond", DType::kBool}}, {"y"}));
  CHECK(interp.status().code() == StatusCode::kInvalidInput);
  CHECK(interp.status().message().find("'bad_if'") != std::string::npos);
  CHECK(interp.status().message().find("'nowhere'") != std::string::npos);
}

TEST_CASE("Resize: scales and sizes both given is an input error naming the node") {
  ir::Model m = model({test::node("Resize", "up", {"x", "", "scales", "sizes"}, {"y"})}, {{"x", DType::kF32}}, {"y"});
  m.graph.set_initializer("scales", Tensor::from_vector<float>({4}, {1, 1, 2, 2}));
  m.graph.set_initializer("sizes", Tensor::from_vector<int64_t>({4}, {1, 1, 4, 4}));
  auto interp = runtime::Interpreter::create(m);
  REQUIRE(interp.ok());
  auto out = (*interp)->run({{"x", Tensor::zeros(DType::kF32, {1, 1, 2, 2})}});
  CHECK(out.status().code() == StatusCode::kInvalidInput);
  CHECK(out.status().message().find("'up'") != std::string::npos);
  // Absurd scales are refused before allocating, with the limit in the message.
  m.graph.nodes[0].inputs = {"x", "", "huge"};
  m.graph.set_initializer("huge", Tensor::from_vector<float>({4}, {1, 1, 1e6f, 1e6f}));
  auto huge = runtime::Interpreter::create(m);
  REQUIRE(huge.ok());
  auto refused = (*huge)->run({{"x", Tensor::zeros(DType::kF32, {1, 1, 2, 2})}});
  CHECK(refused.status().code() == StatusCode::kInvalidInput);
  CHECK(refused.status().message().find("'up'") != std::string::npos);
  CHECK(refused.status().message().find("above the cap") != std::string::npos);
  // With sizes alone it upsamples (nearest, half_pixel): [[1,2],[3,4]] -> 4x4 blocks.
  m.graph.nodes[0].inputs = {"x", "", "", "sizes"};
  auto ok = runtime::Interpreter::create(m);
  REQUIRE(ok.ok());
  auto y = (*ok)->run({{"x", Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4})}});
  REQUIRE_MESSAGE(y.ok(), y.status().message());
  CHECK(floats((*y)[0]) == std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
}

}  // namespace ember::control_flow_test

// Gradients through Scan and Loop: an RNN written as a Scan (scanned along axis 0 or 1,
// forward or reverse, a state and a scan output, weights read from the outer scope) and a Loop
// (a carried state, a scan output, outer weights, a condition that ends it before the trip
// count) checked against finite differences, with Scan-8's batch rows, several scanned inputs
// and outputs, a carried value that grows, a Scan nested in a Loop and weights kept inside a
// body; the Scan's gradients equal those of the same network unrolled; a body op without a rule
// makes the node a cut; a carried sequence is no cut (test_grad_loop_sequence.cc has the rest); the backward pass keeps the forward's iteration caps; the iteration tape
// recomputes what its budget made it drop.
#include <cmath>

#include "ir/memory_limits.h"
#include "runtime/grad/iteration_tape.h"
#include "tests/unit/runtime/grad_test_util.h"
#include "tests/fixtures/loop_scan_models.h"

namespace ember::grad_test {
namespace {

namespace rg = runtime::grad;
using loop_scan_models::body_attr;
using loop_scan_models::loop_model;
using loop_scan_models::rnn_scan_model;
using loop_scan_models::rnn_unrolled_model;

ir::Model with_constants(ir::Model m, const std::vector<TestInput>& inputs) {
  for (const auto& in : inputs)
    if (in.role != Role::kFeed) m.graph.set_initializer(in.name, in.value);
  return m;
}

std::vector<TestInput> rnn_inputs(int64_t seq_axis) {
  const Shape x = seq_axis == 0 ? Shape{3, 2, 3} : Shape{2, 3, 3};  // T = 3, B = 2, D = 3
  return {{"h0", random_f32({2, 4}, 1, 0.5f), Role::kFeed}, {"x", random_f32(x, 2), Role::kFeed},
          {"W", random_f32({3, 4}, 3, 0.5f)},                {"U", random_f32({4, 4}, 4, 0.5f)},
          {"b", random_f32({4}, 5, 0.1f)},                   {"V", random_f32({4, 2}, 6)}};
}

std::vector<TestInput> loop_inputs(int64_t trips, int64_t limit) {
  Tensor yes = Tensor::zeros(DType::kBool, {});
  yes.mutable_data<uint8_t>()[0] = 1;
  return {{"c0", yes, Role::kFeed},
          {"h0", random_f32({2, 3}, 11, 0.5f), Role::kFeed},
          {"x", random_f32({2, 3}, 12, 0.5f), Role::kFeed},
          {"W", random_f32({3, 3}, 13, 0.5f)},
          {"V", random_f32({3, 2}, 14)},
          {"M", Tensor::scalar<int64_t>(trips), Role::kConstant},
          {"limit", Tensor::scalar<int64_t>(limit), Role::kConstant}};
}

std::map<std::string, Tensor> feeds_of(const std::vector<TestInput>& inputs) {
  std::map<std::string, Tensor> feeds;
  for (const auto& in : inputs)
    if (in.role == Role::kFeed) feeds[in.name] = in.value;
  return feeds;
}

// Every differentiated value's gradient, for seeds R_j = 1 on every output element.
std::map<std::string, Tensor> gradients(const ir::Model& m, const std::vector<TestInput>& inputs) {
  rg::GradientOptions go;
  go.activations = {"x", "h0"};
  auto bi = rg::BackwardInterpreter::create(m, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  return seeded_gradients(**bi, feeds_of(inputs));
}

}  // namespace

TEST_CASE("grad Scan: an RNN scanned along axis 0 or 1, forward or reverse, matches finite differences") {
  for (int64_t axis : {0, 1})
    for (bool reverse : {false, true}) {
      INFO("scan axis ", axis, reverse ? " reverse" : " forward");
      const auto inputs = rnn_inputs(axis);
      check_model_gradients(with_constants(rnn_scan_model(axis, reverse), inputs), inputs);
    }
}

TEST_CASE("grad Scan: two scanned inputs and two scan outputs on different axes and directions (a negative axis too)") {
  // s' = Tanh(s * a_t + b_t W); y1 = s' * a_t stacked on axis -2 (1), y2 = s' V stacked on axis 0 from the end.
  std::vector<ir::Node> body = {make_node("Mul", {"s_in", "a_t"}, {"sa"}), make_node("MatMul", {"b_t", "W"}, {"bw"}),
                                make_node("Add", {"sa", "bw"}, {"pre"}), make_node("Tanh", {"pre"}, {"s_out"}),
                                make_node("Mul", {"s_out", "a_t"}, {"y1"}), make_node("MatMul", {"s_out", "V"}, {"y2"})};
  ir::Node scan = make_node("Scan", {"s0", "A", "B"}, {"s_T", "Y1", "Y2"},
                            {int_attr("num_scan_inputs", 2), ints_attr("scan_input_axes", {0, 1}), ints_attr("scan_input_directions", {0, 1}),
                             ints_attr("scan_output_axes", {-2, 0}), ints_attr("scan_output_directions", {0, 1})});
  scan.attributes.push_back(body_attr(std::move(body), {"s_in", "a_t", "b_t"}, {"s_out", "y1", "y2"}));
  const std::vector<TestInput> inputs = {{"s0", random_f32({2, 3}, 1, 0.5f), Role::kFeed}, {"A", random_f32({4, 2, 3}, 2), Role::kFeed},
                                         {"B", random_f32({2, 4, 3}, 3), Role::kFeed},      {"W", random_f32({3, 3}, 4, 0.5f)},
                                         {"V", random_f32({3, 2}, 5)}};
  const ir::Model m = make_graph_model({scan}, inputs, {"s_T", "Y1", "Y2"});
  auto interp = runtime::Interpreter::create(m);
  REQUIRE(interp.ok());
  auto out = (*interp)->run(feeds_of(inputs));
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK((*out)[1].shape() == Shape{2, 4, 3});
  CHECK((*out)[2].shape() == Shape{4, 2, 2});
  check_model_gradients(m, inputs);
}

TEST_CASE("grad Loop: a carried value that grows every iteration") {
  // s' = Concat(s, Tanh((x W) * mean(s))) along axis 1; y = sum(s'): s goes [1, 2] -> [1, 8] in 3 iterations.
  std::vector<ir::Node> body = {make_node("Identity", {"c_in"}, {"c_out"}), make_node("MatMul", {"x", "W"}, {"xw"}),
                                make_node("ReduceMean", {"s_in"}, {"mean"}), make_node("Mul", {"xw", "mean"}, {"scaled"}),
                                make_node("Tanh", {"scaled"}, {"grown"}), make_node("Concat", {"s_in", "grown"}, {"s_out"}, {int_attr("axis", 1)}),
                                make_node("ReduceSum", {"s_out"}, {"y_out"})};
  ir::Node loop = make_node("Loop", {"M", "", "s0"}, {"s_final", "ys"});
  loop.attributes.push_back(body_attr(std::move(body), {"i", "c_in", "s_in"}, {"c_out", "s_out", "y_out"}));
  const std::vector<TestInput> inputs = {{"s0", random_f32({1, 2}, 1, 0.5f, 0.5f), Role::kFeed}, {"x", random_f32({1, 3}, 2), Role::kFeed},
                                         {"W", random_f32({3, 2}, 3, 0.5f)}, {"M", Tensor::scalar<int64_t>(3), Role::kConstant}};
  const ir::Model m = make_graph_model({loop}, inputs, {"s_final", "ys"});
  auto interp = runtime::Interpreter::create(m);
  REQUIRE(interp.ok());
  auto out = (*interp)->run(feeds_of(inputs));
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK((*out)[0].shape() == Shape{1, 8});
  check_model_gradients(m, inputs);
}

TEST_CASE("grad Scan: the gradients equal those of the same network unrolled") {
  for (bool reverse : {false, true}) {
    const auto inputs = rnn_inputs(1);
    const auto scanned = gradients(with_constants(rnn_scan_model(1, reverse), inputs), inputs);
    const auto unrolled = gradients(with_constants(rnn_unrolled_model(1, reverse, 3), inputs), inputs);
    for (const char* name : {"x", "h0", "W", "U", "b", "V"}) {
      INFO(name, reverse ? " reverse" : " forward");
      REQUIRE(scanned.count(name) == 1);
      REQUIRE(unrolled.count(name) == 1);
      const Tensor &a = scanned.at(name), &b = unrolled.at(name);
      REQUIRE(a.shape() == b.shape());
      for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data<float>()[i] == doctest::Approx(b.data<float>()[i]).epsilon(1e-5));
    }
  }
}

TEST_CASE("grad Loop: a carried state, a scan output and outer weights, and a condition that ends it early") {
  SUBCASE("the condition stops it after 3 of 5 iterations") {
    const auto inputs = loop_inputs(5, 2);
    const ir::Model m = with_constants(loop_model(), inputs);
    auto interp = runtime::Interpreter::create(m);
    REQUIRE(interp.ok());
    auto out = (*interp)->run(feeds_of(inputs));
    REQUIRE_MESSAGE(out.ok(), out.status().message());
    CHECK((*out)[1].shape() == Shape{3, 2, 2});
    check_model_gradients(m, inputs);
  }
  SUBCASE("the trip count stops it after 2 iterations") {
    const auto inputs = loop_inputs(2, 10);
    check_model_gradients(with_constants(loop_model(), inputs), inputs);
  }
  SUBCASE("no iteration: the final state's gradient is the initial state's") {
    const auto inputs = loop_inputs(0, 10);
    check_model_gradients(with_constants(loop_model(), inputs), inputs);
  }
}

TEST_CASE("grad Loop: a weight read both inside the body and by the main graph sums both gradients") {
  std::vector<ir::Node> body = {make_node("Identity", {"c_in"}, {"c_out"}), make_node("MatMul", {"h_in", "W"}, {"hw"}),
                                make_node("Tanh", {"hw"}, {"h_out"})};
  ir::Node loop = make_node("Loop", {"M", "", "h0"}, {"h_final"});
  loop.attributes.push_back(body_attr(std::move(body), {"i", "c_in", "h_in"}, {"c_out", "h_out"}));
  const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"W", random_f32({3, 3}, 2, 0.5f)},
                                         {"M", Tensor::scalar<int64_t>(3), Role::kConstant}};
  const ir::Model m = make_graph_model({make_node("MatMul", {"x", "W"}, {"h0"}), loop, make_node("Add", {"h0", "h_final"}, {"y"})},
                                       inputs, {"y"});
  check_model_gradients(m, inputs);
}

TEST_CASE("grad Loop and Scan: weights read only inside the body are reached, and the nodes are not cuts") {
  for (const ir::Model& m : {with_constants(rnn_scan_model(0, false), rnn_inputs(0)), with_constants(loop_model(), loop_inputs(4, 9))}) {
    auto bi = rg::BackwardInterpreter::create(m);
    REQUIRE_MESSAGE(bi.ok(), bi.status().message());
    CHECK((*bi)->cuts().empty());
    CHECK((*bi)->reached().count("W") == 1);
    CHECK((*bi)->reached().count("V") == 1);
  }
}

TEST_CASE("grad Scan: a weight kept inside the body (a Constant or a body initializer) is differentiated like one read from outside") {
  const auto inputs = rnn_inputs(0);
  const Tensor w = inputs[2].value;
  std::vector<Tensor> grads;
  for (int where : {0, 1, 2}) {  // outside, a Constant node in the body, an initializer of the body
    INFO("variant ", where);
    ir::Model m = with_constants(rnn_scan_model(0, false), inputs);
    ir::Graph& body = *m.graph.nodes[0].attributes.back().g;
    if (where > 0) m.graph.remove_initializer("W");
    if (where == 1) body.nodes.insert(body.nodes.begin(), make_node("Constant", {}, {"W"}, {test::tensor_attr("value", w)}));
    if (where == 2) body.set_initializer("W", w);
    const auto g = gradients(m, inputs);
    REQUIRE(g.count("W") == 1);
    grads.push_back(g.at("W"));
  }
  CHECK(grads[1].same_content(grads[0]));
  CHECK(grads[2].same_content(grads[0]));
}

TEST_CASE("grad Loop: a Scan nested in the Loop's body, reading weights two scopes out") {
  // Loop(M = 2) over h: h = Scan-RNN(h, xs) each iteration, with W, U, b read from the main graph.
  std::vector<ir::Node> inner = loop_scan_models::rnn_step("s_", "x_t", "hs_in", "hs_out");
  ir::Node scan = make_node("Scan", {"h_in", "xs"}, {"h_scan"}, {int_attr("num_scan_inputs", 1)});
  scan.attributes.push_back(body_attr(std::move(inner), {"hs_in", "x_t"}, {"hs_out"}));
  std::vector<ir::Node> body = {make_node("Identity", {"c_in"}, {"c_out"}), scan, make_node("Identity", {"h_scan"}, {"y_out"})};
  ir::Node loop = make_node("Loop", {"M", "", "h0"}, {"h_final", "ys"});
  loop.attributes.push_back(body_attr(std::move(body), {"i", "c_in", "h_in"}, {"c_out", "h_scan", "y_out"}));
  const std::vector<TestInput> inputs = {{"h0", random_f32({2, 4}, 1, 0.5f), Role::kFeed}, {"xs", random_f32({3, 2, 3}, 2), Role::kFeed},
                                         {"W", random_f32({3, 4}, 3, 0.5f)}, {"U", random_f32({4, 4}, 4, 0.5f)},
                                         {"b", random_f32({4}, 5, 0.1f)}, {"M", Tensor::scalar<int64_t>(2), Role::kConstant}};
  check_model_gradients(make_graph_model({loop}, inputs, {"h_final", "ys"}), inputs);
}

TEST_CASE("grad Scan-8: batch-major rows scanned for their own sequence_lens, in reverse, against finite differences") {
  ir::Model m = rnn_scan_model(0, false);
  m.opset_imports = {{"", 8}};
  ir::Node& scan = m.graph.nodes[0];
  scan.inputs.insert(scan.inputs.begin(), "lens");
  std::vector<ir::Attribute> attrs = {ints_attr("directions", {1})};
  for (const auto& a : scan.attributes)
    if (a.name == "body" || a.name == "num_scan_inputs") attrs.push_back(a);
  scan.attributes = attrs;
  auto inputs = rnn_inputs(1);  // x [B = 2, T = 3, D = 3]; each row's step takes x [3], h [4]
  inputs.push_back({"lens", Tensor::from_vector<int64_t>({2}, {3, 2}), Role::kConstant});
  m = with_constants(m, inputs);
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  CHECK((*bi)->cuts().empty());
  check_model_gradients(m, inputs);
}

TEST_CASE("grad Loop: a body op without a backward rule makes the Loop a cut naming the weights it cuts off") {
  // ScatterElements with reduction max has no backward rule.
  std::vector<ir::Node> body = {make_node("Identity", {"c_in"}, {"c_out"}), make_node("MatMul", {"h_in", "w1"}, {"t"}),
                                make_node("ScatterElements", {"t", "index", "update"}, {"h_out"}, {test::string_attr("reduction", "max")})};
  ir::Node loop = make_node("Loop", {"M", "", "x"}, {"h"});
  loop.attributes.push_back(body_attr(std::move(body), {"i", "c_in", "h_in"}, {"c_out", "h_out"}));
  ir::Model m = make_graph_model({make_node("MatMul", {"x", "w0"}, {"a"}), loop, make_node("Add", {"a", "h"}, {"y"})},
                                 {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"w0", random_f32({3, 3}, 2)},
                                  {"w1", random_f32({3, 3}, 3)}, {"M", Tensor::scalar<int64_t>(2), Role::kConstant},
                                  {"index", Tensor::from_vector<int64_t>({1, 1}, {0}), Role::kConstant},
                                  {"update", Tensor::from_vector<float>({1, 1}, {0.5f}), Role::kConstant}},
                                 {"y"});
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());  // w0 is still reached through the Add
  REQUIRE((*bi)->cuts().size() == 1);
  CHECK((*bi)->cuts()[0].op_type == "Loop");
  CHECK((*bi)->cuts()[0].sources_cut_off == std::vector<std::string>{"w1"});
  CHECK((*bi)->cuts()[0].reason.find("ScatterElements") != std::string::npos);
}

TEST_CASE("grad Loop: a body that passes a carried sequence through is on the path, not a cut") {
  ir::Model m = with_constants(loop_model(), loop_inputs(3, 9));
  ir::Graph& body = *m.graph.nodes[0].attributes.back().g;
  body.inputs.push_back(test::value_info("list_in", DType::kUndefined));
  body.inputs.back().is_tensor = false;
  body.outputs.insert(body.outputs.begin() + 2, body.inputs.back());
  body.outputs[2].name = "list_in";
  m.graph.nodes[0].inputs.push_back("list0");
  m.graph.nodes[0].outputs.insert(m.graph.nodes[0].outputs.begin() + 1, "list_final");
  m.graph.inputs.push_back(test::value_info("list0", DType::kUndefined));
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  CHECK((*bi)->cuts().empty());
  CHECK((*bi)->reached().count("W") == 1);
}

TEST_CASE("grad Loop: an untyped body that inserts into a carried sequence matches finite differences") {
  std::vector<ir::Node> body = {make_node("Identity", {"c_in"}, {"c_out"}), make_node("MatMul", {"h_in", "W"}, {"hw"}),
                                make_node("Tanh", {"hw"}, {"h_out"}), make_node("SequenceInsert", {"s_in", "h_out"}, {"s_out"})};
  ir::Node loop = make_node("Loop", {"M", "", "h0", "s0"}, {"h_final", "s_final"});
  loop.attributes.push_back(body_attr(std::move(body), {"i", "c_in", "h_in", "s_in"}, {"c_out", "h_out", "s_out"}));
  const std::vector<TestInput> inputs = {{"h0", random_f32({1, 3}, 1), Role::kFeed}, {"W", random_f32({3, 3}, 2, 0.5f)},
                                         {"M", Tensor::scalar<int64_t>(2), Role::kConstant}};
  ir::Node empty = make_node("SequenceEmpty", {}, {"s0"}, {test::int_attr("dtype", 1)});
  const ir::Model m = make_graph_model({empty, loop}, inputs, {"h_final"}, 18);
  check_model_gradients(m, inputs);  // W is read only inside the Loop, which also carries s0
}

TEST_CASE("grad Loop and Scan: the backward pass keeps the forward's iteration caps") {
  struct Restore {
    MemoryLimits saved = memory_limits();
    ~Restore() { set_memory_limits(saved); }
  } restore;
  const auto loop_in = loop_inputs(4, 9);
  const auto scan_in = rnn_inputs(0);
  for (const ir::Model& m : {with_constants(loop_model(), loop_in), with_constants(rnn_scan_model(0, false), scan_in)}) {
    const bool is_loop = m.graph.nodes[0].op_type == "Loop";
    auto bi = rg::BackwardInterpreter::create(m);
    REQUIRE(bi.ok());
    auto out = (*bi)->forward(feeds_of(is_loop ? loop_in : scan_in));  // 4 iterations, 3 steps: under the default caps
    REQUIRE_MESSAGE(out.ok(), out.status().message());
    MemoryLimits small = restore.saved;
    small.max_loop_iterations = 2;
    small.max_sequence_length = 2;
    set_memory_limits(small);
    std::map<std::string, Tensor> seeds;
    for (size_t j = 0; j < out->size(); ++j) seeds[(*bi)->output_names()[j]] = random_f32((*out)[j].shape(), 9);
    const Status st = (*bi)->backward(seeds, [](const std::string&, const Tensor&) { return Status::Ok(); });
    set_memory_limits(restore.saved);
    CHECK(st.code() == StatusCode::kInvalidInput);
    CHECK(st.message().find(is_loop ? "'loop'" : "'rnn'") != std::string::npos);
    CHECK(st.message().find(is_loop ? "4 loop iterations asked, above the cap of 2" : "3 sequence steps asked, above the cap of 2") !=
          std::string::npos);
  }
}

TEST_CASE("iteration tape: past its budget it keeps checkpoints and recomputes the states it dropped") {
  auto next = [](int64_t t, const std::vector<Value>& s) -> Result<std::vector<Value>> {
    return std::vector<Value>{Tensor::scalar<float>(s[0].tensor().data<float>()[0] * 0.5f + float(t))};
  };
  const int64_t steps = 100;
  std::vector<float> expected;
  rg::IterationTape tape(40, next);  // ten states of 4 bytes
  std::vector<Value> state = {Tensor::scalar<float>(1.0f)};
  for (int64_t t = 0; t < steps; ++t) {
    expected.push_back(state[0].tensor().data<float>()[0]);
    tape.record(t, state);
    state = next(t, state).value();
  }
  CHECK(tape.stored_bytes() <= 40);
  CHECK(tape.stride() == 16);
  for (int64_t t = steps - 1; t >= 0; --t) {
    auto s = tape.state_before(t);
    REQUIRE(s.ok());
    CHECK(s->at(0).tensor().data<float>()[0] == expected[size_t(t)]);
  }
  CHECK(tape.recomputed_steps() < steps);  // each dropped state recomputed once
}

}  // namespace ember::grad_test

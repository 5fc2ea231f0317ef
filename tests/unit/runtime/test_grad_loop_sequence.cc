// Sequences through Loop and Scan bodies (issue 17): a Loop whose carried value is a sequence
// (SequenceInsert in the body accumulating one tensor per iteration, ConcatFromSequence after
// the loop, the exporters' pattern), Loop, Scan and SequenceMap bodies reading an outer sequence
// with SequenceAt (its gradient summed over the iterations), all checked against finite
// differences; the accumulating Loop's gradients and Taylor scores equal those of the network
// unrolled; the iteration tape recomputes dropped sequence states. Optionals through bodies:
// test_grad_loop_optional.cc.
#include <cmath>

#include "runtime/grad/iteration_tape.h"
#include "tests/fixtures/loop_scan_models.h"
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {
namespace {

namespace rg = runtime::grad;
using loop_scan_models::body_attr;

constexpr int64_t kOpset = 18;

// s0 = [x]; Loop 3 times: h <- Tanh(h wl), s <- SequenceInsert(s, h);
// y0 = ConcatFromSequence(s) wd, y1 = h_final.
ir::Model accumulating_loop(const std::vector<TestInput>& inputs) {
  ir::Node loop = make_node("Loop", {"trips", "", "x", "s0"}, {"h_final", "s_final"});
  loop.attributes.push_back(body_attr({make_node("Identity", {"c_in"}, {"c_out"}), make_node("MatMul", {"h_in", "wl"}, {"hw"}),
                                       make_node("Tanh", {"hw"}, {"h_out"}), make_node("SequenceInsert", {"s_in", "h_out"}, {"s_out"})},
                                      {"i", "c_in", "h_in", "s_in"}, {"c_out", "h_out", "s_out"}));
  return make_graph_model({make_node("SequenceConstruct", {"x"}, {"s0"}), loop,
                           make_node("ConcatFromSequence", {"s_final"}, {"cat"}, {int_attr("axis", 0)}),
                           make_node("MatMul", {"cat", "wd"}, {"y0"}), make_node("Identity", {"h_final"}, {"y1"})},
                          inputs, {"y0", "y1"}, kOpset);
}

// The same network written out: three copies of the body, one SequenceInsert each.
ir::Model accumulating_unrolled(const std::vector<TestInput>& inputs) {
  std::vector<ir::Node> nodes = {make_node("SequenceConstruct", {"x"}, {"s0"})};
  std::string h = "x", s = "s0";
  for (int t = 0; t < 3; ++t) {
    const std::string p = "t" + std::to_string(t) + "_";
    nodes.push_back(make_node("MatMul", {h, "wl"}, {p + "hw"}));
    nodes.push_back(make_node("Tanh", {p + "hw"}, {p + "h"}));
    nodes.push_back(make_node("SequenceInsert", {s, p + "h"}, {p + "s"}));
    h = p + "h";
    s = p + "s";
  }
  nodes.push_back(make_node("ConcatFromSequence", {s}, {"cat"}, {int_attr("axis", 0)}));
  nodes.push_back(make_node("MatMul", {"cat", "wd"}, {"y0"}));
  nodes.push_back(make_node("Identity", {h}, {"y1"}));
  return make_graph_model(std::move(nodes), inputs, {"y0", "y1"}, kOpset);
}

std::vector<TestInput> accumulating_inputs() {
  return {{"x", random_f32({2, 3}, 1, 0.5f), Role::kFeed},
          {"wl", random_f32({3, 3}, 2, 0.5f)},
          {"wd", random_f32({3, 2}, 3)},
          {"trips", Tensor::scalar<int64_t>(3), Role::kConstant}};
}

// Every differentiated value's gradient (weights and x), for fixed random output seeds.
std::map<std::string, Tensor> gradients(const ir::Model& m, const std::vector<TestInput>& inputs) {
  rg::GradientOptions go;
  go.parameters = {"wl", "wd"};
  go.activations = {"x"};
  auto bi = rg::BackwardInterpreter::create(m, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  CHECK((*bi)->cuts().empty());
  return seeded_gradients(**bi, {{"x", inputs[0].value}});
}

// The first-order Taylor score of a weight: |sum g w|.
double taylor(const Tensor& g, const Tensor& w) {
  double sum = 0;
  for (int64_t i = 0; i < w.numel(); ++i) sum += double(g.data<float>()[i]) * double(w.data<float>()[i]);
  return std::fabs(sum);
}

}  // namespace

TEST_CASE("grad Loop: a carried sequence accumulated with SequenceInsert, a weight in the body and one after the loop") {
  const auto inputs = accumulating_inputs();
  check_model_gradients(accumulating_loop(inputs), inputs);
}

TEST_CASE("grad Loop: a carried sequence's gradients and Taylor scores equal those of the network unrolled") {
  const auto inputs = accumulating_inputs();
  const auto looped = gradients(accumulating_loop(inputs), inputs);
  const auto unrolled = gradients(accumulating_unrolled(inputs), inputs);
  for (const char* name : {"x", "wl", "wd"}) {
    INFO(name);
    REQUIRE(looped.count(name) == 1);
    REQUIRE(unrolled.count(name) == 1);
    const Tensor &a = looped.at(name), &b = unrolled.at(name);
    REQUIRE(a.shape() == b.shape());
    for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data<float>()[i] == doctest::Approx(b.data<float>()[i]).epsilon(1e-5));
  }
  for (size_t w = 1; w <= 2; ++w) {
    const std::string& name = inputs[w].name;
    INFO(name);
    const double score = taylor(looped.at(name), inputs[w].value);
    CHECK(score > 0);
    CHECK(score == doctest::Approx(taylor(unrolled.at(name), inputs[w].value)).epsilon(1e-5));
  }
}

TEST_CASE("grad Loop: a body reading an outer sequence with SequenceAt sums its gradient over the iterations") {
  // sq = [x wa, x wb, Tanh(x)]; Loop 3 times: h <- Tanh(h wl + sq[i] * sq[0]); y = h_final.
  const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1, 0.5f), Role::kFeed}, {"h0", random_f32({2, 3}, 2, 0.5f), Role::kFeed},
                                         {"wa", random_f32({3, 3}, 3, 0.5f)},              {"wb", random_f32({3, 3}, 4, 0.5f)},
                                         {"wl", random_f32({3, 3}, 5, 0.5f)},              {"trips", Tensor::scalar<int64_t>(3), Role::kConstant},
                                         {"p0", Tensor::scalar<int64_t>(0), Role::kConstant}};
  ir::Node loop = make_node("Loop", {"trips", "", "h0"}, {"h_final"});
  loop.attributes.push_back(body_attr({make_node("Identity", {"c_in"}, {"c_out"}), make_node("SequenceAt", {"sq", "i"}, {"a"}),
                                       make_node("SequenceAt", {"sq", "p0"}, {"b"}), make_node("Mul", {"a", "b"}, {"ab"}),
                                       make_node("MatMul", {"h_in", "wl"}, {"hw"}), make_node("Add", {"hw", "ab"}, {"pre"}),
                                       make_node("Tanh", {"pre"}, {"h_out"})},
                                      {"i", "c_in", "h_in"}, {"c_out", "h_out"}));
  const ir::Model m = make_graph_model({make_node("MatMul", {"x", "wa"}, {"xa"}), make_node("MatMul", {"x", "wb"}, {"xb"}),
                                        make_node("Tanh", {"x"}, {"tx"}), make_node("SequenceConstruct", {"xa", "xb", "tx"}, {"sq"}), loop},
                                       inputs, {"h_final"}, kOpset);
  check_model_gradients(m, inputs);
}

TEST_CASE("grad Scan: a body reading an outer sequence with SequenceAt") {
  // sq = [x wa, Tanh(x wb)]; Scan over xs: h <- Tanh(h wl + xs_t + sq[1]) * sq[0], y_t = h.
  const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1, 0.5f), Role::kFeed}, {"xs", random_f32({4, 2, 3}, 2, 0.5f), Role::kFeed},
                                         {"h0", random_f32({2, 3}, 3, 0.5f), Role::kFeed}, {"wa", random_f32({3, 3}, 4, 0.5f)},
                                         {"wb", random_f32({3, 3}, 5, 0.5f)},              {"wl", random_f32({3, 3}, 6, 0.5f)},
                                         {"p0", Tensor::scalar<int64_t>(0), Role::kConstant},
                                         {"p1", Tensor::scalar<int64_t>(1), Role::kConstant}};
  ir::Node scan = make_node("Scan", {"h0", "xs"}, {"h_final", "ys"}, {int_attr("num_scan_inputs", 1)});
  scan.attributes.push_back(body_attr({make_node("SequenceAt", {"sq", "p0"}, {"a"}), make_node("SequenceAt", {"sq", "p1"}, {"b"}),
                                       make_node("MatMul", {"h_in", "wl"}, {"hw"}), make_node("Add", {"hw", "x_t"}, {"hx"}),
                                       make_node("Add", {"hx", "b"}, {"pre"}), make_node("Tanh", {"pre"}, {"th"}),
                                       make_node("Mul", {"th", "a"}, {"h_out"}), make_node("Identity", {"h_out"}, {"y_out"})},
                                      {"h_in", "x_t"}, {"h_out", "y_out"}));
  const ir::Model m = make_graph_model({make_node("MatMul", {"x", "wa"}, {"xa"}), make_node("MatMul", {"x", "wb"}, {"xb"}),
                                        make_node("Tanh", {"xb"}, {"txb"}), make_node("SequenceConstruct", {"xa", "txb"}, {"sq"}), scan},
                                       inputs, {"h_final", "ys"}, kOpset);
  check_model_gradients(m, inputs);
}

TEST_CASE("grad SequenceMap: a body reading an outer sequence sums its gradient over the elements mapped") {
  // out[i] = Tanh(x[i] * sq[0]) + sq[1], for x = [a, b], sq = [c wc, d]; y0 = ConcatFromSequence(out).
  const std::vector<TestInput> inputs = {{"a", random_f32({2, 3}, 1)}, {"b", random_f32({2, 3}, 2)}, {"c", random_f32({2, 3}, 3)},
                                         {"d", random_f32({2, 3}, 4)}, {"wc", random_f32({3, 3}, 5, 0.5f)},
                                         {"p0", Tensor::scalar<int64_t>(0), Role::kConstant},
                                         {"p1", Tensor::scalar<int64_t>(1), Role::kConstant}};
  ir::Node map = make_node("SequenceMap", {"xs"}, {"outs"});
  ir::Attribute body = body_attr({make_node("SequenceAt", {"sq", "p0"}, {"s0"}), make_node("SequenceAt", {"sq", "p1"}, {"s1"}),
                                  make_node("Mul", {"x", "s0"}, {"p"}), make_node("Tanh", {"p"}, {"t"}), make_node("Add", {"t", "s1"}, {"o"})},
                                 {"x"}, {"o"});
  map.attributes.push_back(body);
  const ir::Model m = make_graph_model({make_node("MatMul", {"c", "wc"}, {"cw"}), make_node("SequenceConstruct", {"a", "b"}, {"xs"}),
                                        make_node("SequenceConstruct", {"cw", "d"}, {"sq"}), map,
                                        make_node("ConcatFromSequence", {"outs"}, {"y0"}, {int_attr("axis", 0)})},
                                       inputs, {"y0"}, kOpset);
  check_model_gradients(m, inputs);
}

TEST_CASE("iteration tape: a carried sequence past the budget is recomputed from checkpoints, element by element") {
  // state_t = [1, 2, ..., t] as one-float tensors: the sequence grows every iteration.
  auto next = [](int64_t t, const std::vector<Value>& s) -> Result<std::vector<Value>> {
    std::vector<Tensor> elements = s[0].elements();
    elements.push_back(Tensor::scalar<float>(float(t + 1)));
    return std::vector<Value>{Value::sequence(DType::kF32, std::move(elements))};
  };
  const int64_t steps = 40;
  rg::IterationTape tape(200, next);  // 50 floats: far fewer than the 780 of all states
  std::vector<Value> state = {Value::sequence(DType::kF32, {})};
  for (int64_t t = 0; t < steps; ++t) {
    tape.record(t, state);
    state = next(t, state).value();
  }
  CHECK(tape.stride() > 1);
  CHECK(tape.stored_bytes() <= 200 + 4 * steps);  // the budget, or the first checkpoint alone
  for (int64_t t = steps - 1; t >= 0; --t) {
    auto s = tape.state_before(t);
    REQUIRE(s.ok());
    REQUIRE(s->at(0).is_sequence());
    REQUIRE(s->at(0).length() == size_t(t));
    for (int64_t i = 0; i < t; ++i) CHECK(s->at(0).elements()[size_t(i)].data<float>()[0] == float(i + 1));
  }
  CHECK(tape.recomputed_steps() > 0);
}

}  // namespace ember::grad_test

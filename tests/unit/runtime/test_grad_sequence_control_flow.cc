// Sequences through control flow (issue 17): an If whose branches return sequences carries
// their gradient back into the branch (checked against finite differences, both branches);
// a Loop carrying a sequence reaches the weights in its body; an If whose branch reads an outer
// sequence gives it its gradient.
#include <memory>

#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad sequence: an If whose branches return sequences") {
  for (bool taken : {true, false}) {
    INFO("condition ", taken);
    const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"w0", random_f32({3, 2}, 2)},
                                           {"w1", random_f32({3, 2}, 3)}, {"c", boolean(taken), Role::kFeed},
                                           {"p1", Tensor::scalar<int64_t>(1), Role::kConstant}};
    ir::Node choose = make_node("If", {"c"}, {"s"});
    // then: [x w0, tanh(x w1)]; else: [x w1]
    choose.attributes.push_back(graph_attr("then_branch",
                                           {make_node("MatMul", {"x", "w0"}, {"t0"}), make_node("MatMul", {"x", "w1"}, {"t1"}),
                                            make_node("Tanh", {"t1"}, {"t2"}), make_node("SequenceConstruct", {"t0", "t2"}, {"ts"})},
                                           {}, "ts"));
    choose.attributes.push_back(graph_attr(
        "else_branch", {make_node("MatMul", {"x", "w1"}, {"e0"}), make_node("SequenceConstruct", {"e0"}, {"es"})}, {}, "es"));
    // y0 = ConcatFromSequence(s); y1 = SequenceAt(SequenceInsert(s, x w0, 1), 1)
    ir::Model m = make_graph_model({choose, make_node("ConcatFromSequence", {"s"}, {"y0"}, {int_attr("axis", 0)}),
                                    make_node("MatMul", {"x", "w0"}, {"d"}), make_node("SequenceInsert", {"s", "d", "p1"}, {"s2"}),
                                    make_node("SequenceAt", {"s2", "p1"}, {"y1"})},
                                   inputs, {"y0", "y1"}, 18);
    check_model_gradients(m, inputs);
  }
}

TEST_CASE("grad sequence: a Loop carrying a sequence reaches the weight inside its body") {
  namespace rg = runtime::grad;
  const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"wl", random_f32({3, 2}, 2)},
                                         {"wd", random_f32({3, 2}, 3)}, {"trips", Tensor::scalar<int64_t>(3), Role::kConstant}};
  // s = Loop 3 times: s <- SequenceInsert(s, x wl); y0 = ConcatFromSequence(s); y1 = x wd.
  ir::Node loop = make_node("Loop", {"trips", "", "empty"}, {"s"});
  ir::Attribute body = graph_attr("body",
                                  {make_node("MatMul", {"x", "wl"}, {"m"}), make_node("SequenceInsert", {"s_in", "m"}, {"s_out"}),
                                   make_node("Identity", {"cond_in"}, {"cond_out"})},
                                  {"i", "cond_in", "s_in"}, "cond_out");
  body.g->outputs.push_back(value_info("s_out", DType::kUndefined));
  loop.attributes.push_back(body);
  ir::Model m = make_graph_model({make_node("SequenceEmpty", {}, {"empty"}, {int_attr("dtype", 1)}), loop,
                                  make_node("ConcatFromSequence", {"s"}, {"y0"}, {int_attr("axis", 0)}),
                                  make_node("MatMul", {"x", "wd"}, {"y1"})},
                                 inputs, {"y0", "y1"}, 18);
  rg::GradientOptions go;
  go.parameters = {"wl", "wd"};
  auto bi = rg::BackwardInterpreter::create(m, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  CHECK((*bi)->cuts().empty());
  CHECK((*bi)->reached() == std::set<std::string>{"wl", "wd"});
  check_model_gradients(m, inputs);
}

}  // namespace ember::grad_test

namespace ember::grad_test {

TEST_CASE("grad sequence: an If whose branch reads an outer sequence") {
  namespace rg = runtime::grad;
  for (bool taken : {true, false}) {
    INFO("condition ", taken);
    const std::vector<TestInput> inputs = {{"w0", random_f32({2, 2}, 1)}, {"w1", random_f32({2, 2}, 2)},
                                           {"wd", random_f32({2, 2}, 3)}, {"c", boolean(taken), Role::kFeed}};
    ir::Node choose = make_node("If", {"c"}, {"b"});
    choose.attributes.push_back(
        graph_attr("then_branch", {make_node("ConcatFromSequence", {"s"}, {"t"}, {int_attr("axis", 0)})}, {}, "t"));
    choose.attributes.push_back(graph_attr("else_branch",
                                           {make_node("ConcatFromSequence", {"s"}, {"e0"}, {int_attr("axis", 1)}),
                                            make_node("Transpose", {"e0"}, {"e"})},
                                           {}, "e"));
    ir::Model m = make_graph_model({make_node("SequenceConstruct", {"w0", "w1"}, {"s"}), choose, make_node("Tanh", {"wd"}, {"y1"})},
                                   inputs, {"b", "y1"}, 18);
    rg::GradientOptions go;
    go.parameters = {"w0", "w1", "wd"};
    auto bi = rg::BackwardInterpreter::create(m, go);
    REQUIRE_MESSAGE(bi.ok(), bi.status().message());
    CHECK((*bi)->cuts().empty());
    check_model_gradients(m, inputs);
  }
}

}  // namespace ember::grad_test

namespace ember::grad_test {

TEST_CASE("grad sequence: SequenceMap over a sequence, with a second sequence, a tensor and an outer weight") {
  // out[i] = Tanh(x[i] * k) + z[i] * wo, for x = [a, b], z = [c, d]; y0 = ConcatFromSequence(out).
  const std::vector<TestInput> inputs = {{"a", random_f32({2, 3}, 1)}, {"b", random_f32({2, 3}, 2)}, {"c", random_f32({2, 3}, 3)},
                                         {"d", random_f32({2, 3}, 4)}, {"k", random_f32({2, 3}, 5)}, {"wo", random_f32({2, 3}, 6)}};
  ir::Node map = make_node("SequenceMap", {"xs", "zs", "k"}, {"outs"});
  map.attributes.push_back(graph_attr("body",
                                      {make_node("Mul", {"x", "kk"}, {"p"}), make_node("Tanh", {"p"}, {"t"}),
                                       make_node("Mul", {"z", "wo"}, {"q"}), make_node("Add", {"t", "q"}, {"o"})},
                                      {"x", "z", "kk"}, "o"));
  ir::Model m = make_graph_model({make_node("SequenceConstruct", {"a", "b"}, {"xs"}), make_node("SequenceConstruct", {"c", "d"}, {"zs"}),
                                  map, make_node("ConcatFromSequence", {"outs"}, {"y0"}, {int_attr("axis", 0)})},
                                 inputs, {"y0"}, 18);
  check_model_gradients(m, inputs);
}

}  // namespace ember::grad_test

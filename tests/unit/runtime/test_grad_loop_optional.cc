// Optionals through Loop, If and Scan bodies (issue 17): a Loop whose carried value is an
// optional tensor (allowed since Loop-16) carries the element's gradient back through its
// iterations; If branches and Loop and Scan bodies reading an outer optional with
// OptionalGetElement give it the element's gradient (summed over the iterations); an optional
// that only turns up at run time (an If's output) is differentiated the same way; so are
// optionals holding a sequence (a carried one, one read by If and SequenceMap bodies). All checked
// against finite differences, at opset 16 or 17, where OptionalGetElement takes optionals only
// (a body fed the bare element instead of the optional would fail). A gradient a body would
// drop is an error naming the node.
#include <memory>

#include "tests/fixtures/loop_scan_models.h"
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {
namespace {

namespace rg = runtime::grad;
using loop_scan_models::body_attr;

constexpr int64_t kOpset = 16;

ir::Attribute branch_attr(const std::string& name, std::vector<ir::Node> nodes, const std::string& output) {
  ir::Attribute a = body_attr(std::move(nodes), {}, {output});
  a.name = name;
  return a;
}

void check_without_cuts(const ir::Model& m, const std::vector<TestInput>& inputs) {
  rg::GradientOptions go;
  for (const auto& in : inputs)
    if (in.role == Role::kWeight) go.parameters.push_back(in.name);
  auto bi = rg::BackwardInterpreter::create(m, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  CHECK((*bi)->cuts().empty());
  check_model_gradients(m, inputs);
}

}  // namespace

TEST_CASE("grad Loop: a carried optional tensor, a weight in the body and one after the loop") {
  // o0 = Optional(h0); Loop 3 times: o <- Optional(Tanh(OptionalGetElement(o) wl)); y = get(o_final) wd.
  const std::vector<TestInput> inputs = {{"h0", random_f32({2, 3}, 1, 0.5f), Role::kFeed}, {"wl", random_f32({3, 3}, 2, 0.5f)},
                                         {"wd", random_f32({3, 2}, 3)}, {"trips", Tensor::scalar<int64_t>(3), Role::kConstant}};
  ir::Node loop = make_node("Loop", {"trips", "", "o0"}, {"o_final"});
  loop.attributes.push_back(body_attr({make_node("Identity", {"c_in"}, {"c_out"}), make_node("OptionalGetElement", {"o_in"}, {"h_in"}),
                                       make_node("MatMul", {"h_in", "wl"}, {"hw"}), make_node("Tanh", {"hw"}, {"h_out"}),
                                       make_node("Optional", {"h_out"}, {"o_out"})},
                                      {"i", "c_in", "o_in"}, {"c_out", "o_out"}));
  const ir::Model m = make_graph_model({make_node("Optional", {"h0"}, {"o0"}), loop, make_node("OptionalGetElement", {"o_final"}, {"hf"}),
                                        make_node("MatMul", {"hf", "wd"}, {"y"})},
                                       inputs, {"y"}, kOpset);
  check_without_cuts(m, inputs);
}

TEST_CASE("grad Loop: a carried optional that only turns up at run time (an If's output)") {
  // o0 = If(c: Optional(h0) else Optional(Tanh(h0))), which no op tells the planner is an optional;
  // Loop 2 times: o <- Optional(Tanh(get(o) wl)); y = get(o_final) wd.
  const std::vector<TestInput> inputs = {{"h0", random_f32({2, 3}, 1, 0.5f), Role::kFeed}, {"wl", random_f32({3, 3}, 2, 0.5f)},
                                         {"wd", random_f32({3, 2}, 3)}, {"c", boolean(false), Role::kFeed},
                                         {"trips", Tensor::scalar<int64_t>(2), Role::kConstant}};
  ir::Node make = make_node("If", {"c"}, {"o0"});
  make.attributes.push_back(branch_attr("then_branch", {make_node("Optional", {"h0"}, {"p"})}, "p"));
  make.attributes.push_back(branch_attr("else_branch", {make_node("Tanh", {"h0"}, {"th"}), make_node("Optional", {"th"}, {"q"})}, "q"));
  ir::Node loop = make_node("Loop", {"trips", "", "o0"}, {"o_final"});
  loop.attributes.push_back(body_attr({make_node("Identity", {"c_in"}, {"c_out"}), make_node("OptionalGetElement", {"o_in"}, {"h_in"}),
                                       make_node("MatMul", {"h_in", "wl"}, {"hw"}), make_node("Tanh", {"hw"}, {"h_out"}),
                                       make_node("Optional", {"h_out"}, {"o_out"})},
                                      {"i", "c_in", "o_in"}, {"c_out", "o_out"}));
  const ir::Model m = make_graph_model({make, loop, make_node("OptionalGetElement", {"o_final"}, {"hf"}), make_node("MatMul", {"hf", "wd"}, {"y"})},
                                       inputs, {"y"}, kOpset);
  check_without_cuts(m, inputs);
}

TEST_CASE("grad Loop: a gradient its body would drop (an empty optional output given one) is an error naming the node") {
  // Loop 2 times: h <- Tanh(h w), o <- Optional() (empty); outputs h_final and o_final, both seeded.
  const std::vector<TestInput> inputs = {{"h0", random_f32({2, 3}, 1, 0.5f), Role::kFeed}, {"w", random_f32({3, 3}, 2, 0.5f)},
                                         {"trips", Tensor::scalar<int64_t>(2), Role::kConstant}};
  ir::Node loop = make_node("Loop", {"trips", "", "h0", "o0"}, {"h_final", "o_final"});
  loop.attributes.push_back(body_attr({make_node("Identity", {"c_in"}, {"c_out"}), make_node("MatMul", {"h_in", "w"}, {"hw"}),
                                       make_node("Tanh", {"hw"}, {"h_out"}), make_node("Optional", {}, {"o_out"})},
                                      {"i", "c_in", "h_in", "o_in"}, {"c_out", "h_out", "o_out"}));
  const ir::Model m = make_graph_model({make_node("Optional", {"h0"}, {"o0"}), loop}, inputs, {"h_final", "o_final"}, kOpset);
  rg::GradientOptions go;
  go.parameters = {"w"};
  auto bi = rg::BackwardInterpreter::create(m, go);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  auto out = (*bi)->forward_with_values({{"h0", inputs[0].value}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  REQUIRE(out->at(1).is_optional());
  CHECK_FALSE(out->at(1).has_element());
  std::map<std::string, Tensor> seeds = {{"h_final", random_f32({2, 3}, 9)}, {"o_final", Tensor::scalar<float>(1.0f)}};
  const Status st = (*bi)->backward(seeds, [](const std::string&, const Tensor&) { return Status::Ok(); });
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("n_Loop_h_final") != std::string::npos);
  CHECK(st.message().find("'o_out'") != std::string::npos);
  CHECK(st.message().find("would be dropped") != std::string::npos);
}

TEST_CASE("grad Loop: a body reading an outer optional with OptionalGetElement sums its gradient over the iterations") {
  // ow = Optional(Tanh(x wa)); Loop 2 times: h <- (h get(ow)) + h w; y = h_final wd.
  const std::vector<TestInput> inputs = {{"h0", random_f32({2, 3}, 1), Role::kFeed}, {"x", random_f32({3, 3}, 2), Role::kFeed},
                                         {"wa", random_f32({3, 3}, 3, 0.5f)},       {"w", random_f32({3, 3}, 4, 0.5f)},
                                         {"wd", random_f32({3, 3}, 5)},             {"trips", Tensor::scalar<int64_t>(2), Role::kConstant}};
  ir::Node loop = make_node("Loop", {"trips", "", "h0"}, {"h_final"});
  loop.attributes.push_back(body_attr({make_node("Identity", {"c_in"}, {"c_out"}), make_node("OptionalGetElement", {"ow"}, {"we"}),
                                       make_node("MatMul", {"h_in", "we"}, {"a"}), make_node("MatMul", {"h_in", "w"}, {"b"}),
                                       make_node("Add", {"a", "b"}, {"h_out"})},
                                      {"i", "c_in", "h_in"}, {"c_out", "h_out"}));
  const ir::Model m = make_graph_model({make_node("MatMul", {"x", "wa"}, {"xa"}), make_node("Tanh", {"xa"}, {"t"}),
                                        make_node("Optional", {"t"}, {"ow"}), loop, make_node("MatMul", {"h_final", "wd"}, {"y"})},
                                       inputs, {"y"}, kOpset);
  check_without_cuts(m, inputs);
}

TEST_CASE("grad Scan: a body reading an outer optional with OptionalGetElement") {
  // ow = Optional(x wa); Scan over xs: h <- Tanh(h get(ow) + xs_t), y_t = h.
  const std::vector<TestInput> inputs = {{"x", random_f32({3, 3}, 1, 0.5f), Role::kFeed}, {"xs", random_f32({4, 2, 3}, 2, 0.5f), Role::kFeed},
                                         {"h0", random_f32({2, 3}, 3, 0.5f), Role::kFeed}, {"wa", random_f32({3, 3}, 4, 0.5f)}};
  ir::Node scan = make_node("Scan", {"h0", "xs"}, {"h_final", "ys"}, {int_attr("num_scan_inputs", 1)});
  scan.attributes.push_back(body_attr({make_node("OptionalGetElement", {"ow"}, {"we"}), make_node("MatMul", {"h_in", "we"}, {"hw"}),
                                       make_node("Add", {"hw", "x_t"}, {"pre"}), make_node("Tanh", {"pre"}, {"h_out"}),
                                       make_node("Identity", {"h_out"}, {"y_out"})},
                                      {"h_in", "x_t"}, {"h_out", "y_out"}));
  const ir::Model m = make_graph_model({make_node("MatMul", {"x", "wa"}, {"xa"}), make_node("Optional", {"xa"}, {"ow"}), scan},
                                       inputs, {"h_final", "ys"}, kOpset);
  check_without_cuts(m, inputs);
}

TEST_CASE("grad If: a branch reading an outer optional with OptionalGetElement, both branches") {
  for (bool taken : {true, false}) {
    INFO("condition ", taken);
    // ow = Optional(x wa); b = c ? Tanh(get(ow)) : get(ow) w; y1 = Tanh(wd).
    const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"wa", random_f32({3, 3}, 2, 0.5f)},
                                           {"w", random_f32({3, 3}, 3, 0.5f)},          {"wd", random_f32({2, 2}, 4)},
                                           {"c", boolean(taken), Role::kFeed}};
    ir::Node choose = make_node("If", {"c"}, {"b"});
    choose.attributes.push_back(
        branch_attr("then_branch", {make_node("OptionalGetElement", {"ow"}, {"e"}), make_node("Tanh", {"e"}, {"t"})}, "t"));
    choose.attributes.push_back(
        branch_attr("else_branch", {make_node("OptionalGetElement", {"ow"}, {"e"}), make_node("MatMul", {"e", "w"}, {"f"})}, "f"));
    const ir::Model m = make_graph_model({make_node("MatMul", {"x", "wa"}, {"xa"}), make_node("Optional", {"xa"}, {"ow"}), choose,
                                          make_node("Tanh", {"wd"}, {"y1"})},
                                         inputs, {"b", "y1"}, kOpset);
    check_without_cuts(m, inputs);
  }
}

TEST_CASE("grad If: an optional that only turns up at run time (another If's output), read by a branch") {
  // o = c ? Optional(x wa) : Optional(Tanh(x wa)) (no op tells the planner o is an optional);
  // b = If(c2: Tanh(get(o)) else get(o) w).
  const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"wa", random_f32({3, 3}, 2, 0.5f)},
                                         {"w", random_f32({3, 3}, 3, 0.5f)},          {"c", boolean(false), Role::kFeed},
                                         {"c2", boolean(true), Role::kFeed}};
  ir::Node make = make_node("If", {"c"}, {"o"});
  make.attributes.push_back(branch_attr("then_branch", {make_node("Optional", {"xa"}, {"p"})}, "p"));
  make.attributes.push_back(branch_attr("else_branch", {make_node("Tanh", {"xa"}, {"ta"}), make_node("Optional", {"ta"}, {"q"})}, "q"));
  ir::Node read = make_node("If", {"c2"}, {"b"});
  read.attributes.push_back(
      branch_attr("then_branch", {make_node("OptionalGetElement", {"o"}, {"e"}), make_node("Tanh", {"e"}, {"t"})}, "t"));
  read.attributes.push_back(
      branch_attr("else_branch", {make_node("OptionalGetElement", {"o"}, {"e"}), make_node("MatMul", {"e", "w"}, {"f"})}, "f"));
  const ir::Model m = make_graph_model({make_node("MatMul", {"x", "wa"}, {"xa"}), make, read}, inputs, {"b"}, kOpset);
  check_without_cuts(m, inputs);
}

}  // namespace ember::grad_test

namespace ember::grad_test {

TEST_CASE("grad Loop: a carried optional sequence, one tensor appended per iteration") {
  // o0 = Optional([x]); Loop 2 times: s = get(o); o <- Optional(SequenceInsert(s, Tanh(s[-1] wl)));
  // y = ConcatFromSequence(get(o_final)) wd.
  const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1, 0.5f), Role::kFeed}, {"wl", random_f32({3, 3}, 2, 0.5f)},
                                         {"wd", random_f32({3, 2}, 3)}, {"trips", Tensor::scalar<int64_t>(2), Role::kConstant},
                                         {"last", Tensor::scalar<int64_t>(-1), Role::kConstant}};
  ir::Node loop = make_node("Loop", {"trips", "", "o0"}, {"o_final"});
  loop.attributes.push_back(body_attr({make_node("Identity", {"c_in"}, {"c_out"}), make_node("OptionalGetElement", {"o_in"}, {"s_in"}),
                                       make_node("SequenceAt", {"s_in", "last"}, {"h_in"}), make_node("MatMul", {"h_in", "wl"}, {"hw"}),
                                       make_node("Tanh", {"hw"}, {"h_out"}), make_node("SequenceInsert", {"s_in", "h_out"}, {"s_out"}),
                                       make_node("Optional", {"s_out"}, {"o_out"})},
                                      {"i", "c_in", "o_in"}, {"c_out", "o_out"}));
  const ir::Model m = make_graph_model({make_node("SequenceConstruct", {"x"}, {"s0"}), make_node("Optional", {"s0"}, {"o0"}), loop,
                                        make_node("OptionalGetElement", {"o_final"}, {"s_final"}),
                                        make_node("ConcatFromSequence", {"s_final"}, {"cat"}, {int_attr("axis", 0)}),
                                        make_node("MatMul", {"cat", "wd"}, {"y"})},
                                       inputs, {"y"}, kOpset);
  check_without_cuts(m, inputs);
}

TEST_CASE("grad If and SequenceMap: bodies reading an outer optional sequence") {
  // os = Optional([x wa, Tanh(x)]); b = c ? ConcatFromSequence(get(os)) : Tanh(get(os)[1]);
  // outs[i] = xs[i] * get(os)[0]; y = ConcatFromSequence(outs).
  for (bool taken : {true, false}) {
    INFO("condition ", taken);
    const std::vector<TestInput> inputs = {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"wa", random_f32({3, 3}, 2, 0.5f)},
                                           {"a", random_f32({2, 3}, 3)},                {"b0", random_f32({2, 3}, 4)},
                                           {"c", boolean(taken), Role::kFeed},          {"p0", Tensor::scalar<int64_t>(0), Role::kConstant},
                                           {"p1", Tensor::scalar<int64_t>(1), Role::kConstant}};
    ir::Node choose = make_node("If", {"c"}, {"b"});
    choose.attributes.push_back(branch_attr(
        "then_branch", {make_node("OptionalGetElement", {"os"}, {"s"}), make_node("ConcatFromSequence", {"s"}, {"t"}, {int_attr("axis", 0)})},
        "t"));
    choose.attributes.push_back(branch_attr("else_branch",
                                            {make_node("OptionalGetElement", {"os"}, {"s"}), make_node("SequenceAt", {"s", "p1"}, {"e"}),
                                             make_node("Tanh", {"e"}, {"f"})},
                                            "f"));
    ir::Node map = make_node("SequenceMap", {"xs"}, {"outs"});
    ir::Attribute body = body_attr({make_node("OptionalGetElement", {"os"}, {"s"}), make_node("SequenceAt", {"s", "p0"}, {"k"}),
                                    make_node("Mul", {"xi", "k"}, {"o"})},
                                   {"xi"}, {"o"});
    map.attributes.push_back(body);
    const ir::Model m = make_graph_model({make_node("MatMul", {"x", "wa"}, {"xa"}), make_node("Tanh", {"x"}, {"tx"}),
                                          make_node("SequenceConstruct", {"xa", "tx"}, {"sq"}), make_node("Optional", {"sq"}, {"os"}), choose,
                                          make_node("SequenceConstruct", {"a", "b0"}, {"xs"}), map,
                                          make_node("ConcatFromSequence", {"outs"}, {"y"}, {int_attr("axis", 0)})},
                                         inputs, {"b", "y"}, 17);  // SequenceMap: 17; OptionalGetElement still takes optionals only
    check_without_cuts(m, inputs);
  }
}

}  // namespace ember::grad_test

// constants-to-initializers and upgrade-opset on small built graphs: structure (what moved,
// what became an input) and bit-identical outputs before and after.
#include <doctest/doctest.h>

#include <cstring>

#include "passes/cleanup/constants_to_initializers.h"
#include "passes/cleanup/opset_upgrade.h"
#include "runtime/interpreter.h"
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::cleanup_test {
namespace {

using grad_test::make_graph_model;
using grad_test::make_node;
using grad_test::Role;
using test::float_attr;
using test::int_attr;
using test::ints_attr;
using test::string_attr;
using test::tensor_attr;

std::vector<Tensor> run(const ir::Model& m, const Tensor& x) {
  auto interp = runtime::Interpreter::create(m);
  REQUIRE_MESSAGE(interp.ok(), interp.status().message());
  auto out = (*interp)->run({{"x", x}});
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  return *out;
}

void check_bit_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].shape() == b[i].shape());
    REQUIRE(a[i].nbytes() == b[i].nbytes());
    CHECK(std::memcmp(a[i].raw(), b[i].raw(), a[i].nbytes()) == 0);
  }
}

size_t count_op(const ir::Model& m, const std::string& op) {
  size_t n = 0;
  for (const auto& node : m.graph.nodes) n += node.op_type == op;
  return n;
}

}  // namespace

TEST_CASE("constants-to-initializers: Constant weights become initializers, outputs unchanged") {
  const Tensor w = grad_test::random_f32({6, 4}, 2);
  ir::Model m = make_graph_model({make_node("Constant", {}, {"w"}, {tensor_attr("value", w)}),
                                  make_node("Constant", {}, {"k"}, {float_attr("value_float", 0.5f)}),
                                  make_node("MatMul", {"x", "w"}, {"h"}), make_node("Mul", {"h", "k"}, {"y"})},
                                 {{"x", grad_test::random_f32({3, 6}, 1), Role::kFeed}}, {"y"});
  const Tensor x = grad_test::random_f32({3, 6}, 7);
  const auto before = run(m, x);
  passes::Remarks remarks;
  passes::AnalysisManager analyses;
  passes::PassContext ctx(analyses, remarks);
  REQUIRE(passes::ConstantsToInitializers({}).run(m, ctx).ok());
  CHECK(count_op(m, "Constant") == 0);
  REQUIRE(m.graph.find_initializer("w"));
  CHECK(m.graph.find_initializer("w")->shape() == Shape{6, 4});
  CHECK(m.graph.find_initializer("k")->numel() == 1);
  CHECK(remarks.stats["constants-to-initializers"]["constants-moved"] == 2);
  check_bit_identical(before, run(m, x));
}

TEST_CASE("upgrade-opset: opset-9 signatures become opset-13 and 21 ones with bit-identical outputs") {
  auto scales = Tensor::from_vector<float>({4}, {1, 1, 2, 2});
  // x [1, 2, 3, 4] -> Upsample(nearest, x2) -> Slice(attrs) -> Clip(attrs) -> Softmax(axis 1, coerced)
  //   -> ReduceMean(axes) -> Unsqueeze(axes) -> Squeeze(axes) -> Split(split) -> Add
  ir::Model m = make_graph_model(
      {make_node("Upsample", {"x", "scales"}, {"u"}, {string_attr("mode", "nearest")}),
       make_node("Slice", {"u"}, {"s"}, {ints_attr("starts", {1}), ints_attr("ends", {6}), ints_attr("axes", {3})}),
       make_node("Clip", {"s"}, {"c"}, {float_attr("min", -0.5f), float_attr("max", 0.75f)}),
       make_node("Softmax", {"c"}, {"p"}, {int_attr("axis", 1)}),
       make_node("ReduceMean", {"p"}, {"r"}, {ints_attr("axes", {2})}),
       make_node("Unsqueeze", {"r"}, {"q"}, {ints_attr("axes", {0})}),
       make_node("Squeeze", {"q"}, {"z"}, {ints_attr("axes", {0})}),
       make_node("Split", {"z"}, {"a", "b"}, {int_attr("axis", 3), ints_attr("split", {2, 3})}),
       make_node("ReduceSum", {"b"}, {"y"}, {ints_attr("axes", {3})})},
      {{"x", grad_test::random_f32({1, 2, 3, 4}, 1), Role::kFeed}, {"scales", scales, Role::kConstant}}, {"y", "a"}, 9);
  const Tensor x = grad_test::random_f32({1, 2, 3, 4}, 5);
  const auto before = run(m, x);
  for (int64_t target : {13, 21}) {
    ir::Model up = m;
    auto r = passes::upgrade_default_opset(up, target);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(up.opset_version("") == target);
    CHECK(r->nodes_rewritten >= 8);
    CHECK(count_op(up, "Upsample") == 0);
    CHECK(count_op(up, "Resize") == 1);
    for (const auto& node : up.graph.nodes) {
      INFO(node.op_type);
      if (node.op_type != "ReduceMean" || target >= 18) CHECK(!node.find_attr("axes"));  // inputs now (ReduceMean from 18)
      CHECK(!node.find_attr("split"));
      CHECK(!node.find_attr("min"));
    }
    check_bit_identical(before, run(up, x));
  }
}

TEST_CASE("upgrade-opset: refuses what has no equivalent, naming the node") {
  ir::Model m = make_graph_model({make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, {int_attr("spatial", 0)})},
                                 {{"x", grad_test::random_f32({1, 2, 3}, 1), Role::kFeed}}, {"y"}, 7);
  m.graph.nodes[0].name = "bn";
  auto r = passes::upgrade_default_opset(m, 13);
  CHECK(r.status().code() == StatusCode::kUnsupported);
  CHECK(r.status().message().find("'bn'") != std::string::npos);
  ir::Model old = make_graph_model({}, {}, {}, 5);
  CHECK(passes::upgrade_default_opset(old, 13).status().code() == StatusCode::kUnsupported);
}

}  // namespace ember::cleanup_test

// The cleanup passes on graphs built in code: structure (op and initializer counts) and
// numerical equivalence against the unmodified graph.
#include <doctest/doctest.h>

#include "passes/pass_manager.h"
#include "tests/unit/passes/quantize_test_util.h"

namespace ember::cleanup_basics_test {

using namespace qw_test;

namespace {

ir::Model run_pipeline(const ir::Model& model, const std::string& pipeline, passes::PassRecord* record = nullptr) {
  ir::Model m = model;
  auto manager = passes::PassManager::from_text(pipeline);
  REQUIRE(manager.ok());
  passes::AnalysisManager analyses;
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  const Status s = manager->run(m, ctx);
  REQUIRE_MESSAGE(s.ok(), s.message());
  if (record) *record = manager->records().back();
  return m;
}

}  // namespace

TEST_CASE("dce: removes what no output needs, keeps what the outputs need") {
  // y = Relu(x W); a dead branch Sigmoid(x) -> Mul(., dead_w), and an unused initializer.
  ir::Model m = make_model({node("MatMul", {"x", "w"}, {"h"}), node("Sigmoid", {"x"}, {"s"}), node("Mul", {"s", "dead_w"}, {"d"}),
                            node("Relu", {"h"}, {"y"})},
                           {-1, 8}, {{"w", random_tensor({8, 4}, 1)}, {"dead_w", random_tensor({8}, 2)}, {"unused", random_tensor({3}, 3)}});
  passes::PassRecord record;
  const ir::Model out = run_pipeline(m, "dce", &record);
  CHECK(out.graph.nodes.size() == 2);
  CHECK(count_ops(out, "Sigmoid") == 0);
  CHECK(out.graph.find_initializer("dead_w") == nullptr);
  CHECK(out.graph.find_initializer("unused") == nullptr);
  CHECK(out.graph.find_initializer("w") != nullptr);
  CHECK(record.counters.at("nodes-removed") == 2);
  CHECK(record.counters.at("initializers-removed") == 2);
  const Tensor x = random_tensor({3, 8}, 4, 1.0f);
  CHECK(run_model(out, x) == run_model(m, x));
}

TEST_CASE("remove-identity: readers rewired, a graph output keeps its name") {
  // x -> Identity -> a -> MatMul(w) -> b -> Identity -> y (the output)
  ir::Model m = make_model({node("Identity", {"x"}, {"a"}), node("MatMul", {"a", "w"}, {"b"}), node("Identity", {"b"}, {"y"})},
                           {-1, 8}, {{"w", random_tensor({8, 4}, 1)}});
  passes::PassRecord record;
  const ir::Model out = run_pipeline(m, "remove-identity", &record);
  CHECK(count_ops(out, "Identity") == 0);
  REQUIRE(out.graph.nodes.size() == 1);
  CHECK(out.graph.nodes[0].inputs[0] == "x");
  CHECK(out.graph.nodes[0].outputs[0] == "y");  // the producer writes the output directly
  CHECK(record.counters.at("identities-removed") == 2);
  const Tensor x = random_tensor({2, 8}, 5, 1.0f);
  CHECK(run_model(out, x) == run_model(m, x));
}

TEST_CASE("dedupe-initializers: equal bytes merged, different ones kept") {
  const Tensor w = random_tensor({8, 8}, 1);
  ir::Model m = make_model({node("MatMul", {"x", "w1"}, {"a"}), node("MatMul", {"a", "w2"}, {"b"}), node("MatMul", {"b", "w3"}, {"y"})},
                           {-1, 8}, {{"w1", w.clone()}, {"w2", w.clone()}, {"w3", random_tensor({8, 8}, 2)}});
  passes::PassRecord record;
  const ir::Model out = run_pipeline(m, "dedupe-initializers", &record);
  CHECK(out.graph.initializers.size() == 2);
  CHECK(out.graph.nodes[1].inputs[1] == out.graph.nodes[0].inputs[1]);
  CHECK(out.graph.nodes[2].inputs[1] == "w3");
  CHECK(record.counters.at("initializers-merged") == 1);
  CHECK(record.counters.at("bytes-saved") == 8 * 8 * 4);
  const Tensor x = random_tensor({2, 8}, 6, 1.0f);
  CHECK(run_model(out, x) == run_model(m, x));
}

}  // namespace ember::cleanup_basics_test

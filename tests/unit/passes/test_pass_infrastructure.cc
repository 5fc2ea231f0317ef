// Pass infrastructure (issue 14): the AnalysisManager's cache, invalidation and copies, the
// PassManager's verification, records and bad pipelines, options tables, and the layer model
// shared by quantization and importance.
#include <doctest/doctest.h>

#include <filesystem>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "passes/analysis/analyze_importance.h"
#include "passes/analysis/layer_model.h"
#include "passes/analysis_manager.h"
#include "passes/pass_manager.h"
#include "passes/quantize/weight_quantizer.h"
#include "tests/unit/passes/quantize_test_util.h"

namespace ember::pass_infra_test {

using namespace qw_test;

namespace {

// An analysis that counts and returns how many graph nodes it saw.
struct NodeCount {
  static constexpr std::string_view kName = "node-count";
  struct Options {
    int64_t scale = 1;
    std::string key() const { return std::to_string(scale); }
  };
  using Output = int64_t;
  static Result<Output> compute(const ir::Model& model, const calibration::CalibrationSet&, const Options& o,
                                const passes::ProgressFn&) {
    return static_cast<int64_t>(model.graph.nodes.size()) * o.scale;
  }
};

// x [n, 64] -> MatMul(w1 [64, 96]) -> Relu -> MatMul(w2 [96, 32]) -> y
ir::Model mlp() {
  return make_model({node("MatMul", {"x", "w1"}, {"h"}), node("Relu", {"h"}, {"a"}), node("MatMul", {"a", "w2"}, {"y"})},
                    {-1, 64}, {{"w1", random_tensor({64, 96}, 1)}, {"w2", random_tensor({96, 32}, 2)}});
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ember_pass_infra_" + name)).string();
}

calibration::CalibrationSet calib_for(const ir::Model& m, const std::string& file, int64_t rows) {
  REQUIRE(formats::write_npz(file, {{"x", random_tensor({rows, 64}, 7, 1.0f)}}).ok());
  calibration::CalibrationOptions co;
  co.batch = 4;
  auto set = calibration::CalibrationSet::open(file, m.graph.feed_inputs(), co);
  REQUIRE(set.ok());
  return std::move(*set);
}

// A pass that breaks the graph: its node reads a value nothing defines.
struct BreakGraph final : passes::Pass {
  std::string_view name() const override { return "break-graph"; }
  Status run(ir::Model& m, passes::PassContext&) override {
    m.graph.nodes[0].inputs[0] = "nowhere";
    return Status::Ok();
  }
};

}  // namespace

TEST_CASE("analysis manager: computed once, invalidated unless preserved, copies share what was computed") {
  const ir::Model m = mlp();
  const std::string file = temp_path("count.npz");
  const calibration::CalibrationSet set = calib_for(m, file, 8);
  passes::AnalysisManager am(&set);
  auto a = am.get<NodeCount>(m);
  REQUIRE(a.ok());
  CHECK(**a == 3);
  CHECK(**am.get<NodeCount>(m) == 3);
  CHECK(am.computations("node-count") == 1);
  CHECK(**am.get<NodeCount>(m, {2}) == 6);  // other options, another result
  CHECK(am.computations("node-count") == 2);
  CHECK(am.find<NodeCount>() != nullptr);

  passes::AnalysisManager copy = am;  // a search candidate's manager
  copy.invalidate(passes::PreservedAnalyses::none());
  CHECK(copy.cached() == 0);
  CHECK(am.cached() == 2);            // the original keeps its results
  CHECK(**copy.get<NodeCount>(m) == 3);
  CHECK(am.computations("node-count") == 3);  // counted across copies

  am.invalidate(passes::PreservedAnalyses::none().preserve("node-count"));
  CHECK(am.cached() == 2);
  am.invalidate(passes::PreservedAnalyses::none().preserve("other"));
  CHECK(am.cached() == 0);
  CHECK(am.find<NodeCount>() == nullptr);

  passes::AnalysisManager without_data;
  auto missing = without_data.get<NodeCount>(m);
  CHECK(missing.status().code() == StatusCode::kInvalidInput);
  CHECK(missing.status().message().find("calibration") != std::string::npos);
  std::filesystem::remove(file);
}

TEST_CASE("analyze-importance then a consumer computes importance once") {
  const ir::Model model = mlp();
  const std::string file = temp_path("mlp.npz");
  const calibration::CalibrationSet set = calib_for(model, file, 16);
  for (const char* pipeline : {"analyze-importance{loss=mse},quantize-weights{bits=4,protect=1}",
                               "analyze-importance{loss=mse},analyze-importance{loss=mse},dce,quantize-weights{bits=4,protect=1}"}) {
    CAPTURE(pipeline);
    ir::Model m = model;
    auto manager = passes::PassManager::from_text(pipeline);
    REQUIRE(manager.ok());
    passes::AnalysisManager am(&set);
    passes::Remarks remarks;
    passes::PassContext ctx(am, remarks);
    const Status s = manager->run(m, ctx);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(am.computations("importance") == 1);
    // The consumer used the scores: the layer importance ranks most sensitive to INT4 stays INT8.
    auto scores = manager->last_result<passes::ImportanceResult>("analyze-importance");
    REQUIRE(scores);
    double worst = -1;
    std::string most_sensitive;
    for (const auto& t : scores->report->tensors)
      for (const auto& c : t.candidates)
        if (c.precision == "int4" && c.block == 32 && c.predicted_loss_increase > worst)
          worst = c.predicted_loss_increase, most_sensitive = t.name;
    auto quantized = manager->last_result<passes::QuantizeWeightsResult>("quantize-weights");
    REQUIRE(quantized);
    REQUIRE(quantized->tensors.size() == 2);
    for (const auto& r : quantized->tensors) CHECK(r.bits == (r.name == most_sensitive ? 8 : 4));
    // quantize-weights changed the weights: its analyses are gone.
    CHECK(am.cached() == 0);
  }
  // Without analyze-importance first, protect computes the analysis itself (once).
  ir::Model m = model;
  auto manager = passes::PassManager::from_text("quantize-weights{bits=8,protect=1}");
  REQUIRE(manager.ok());
  passes::AnalysisManager am(&set);
  passes::Remarks remarks;
  passes::PassContext ctx(am, remarks);
  REQUIRE(manager->run(m, ctx).ok());
  CHECK(am.computations("importance") == 1);
  auto quantized = manager->last_result<passes::QuantizeWeightsResult>("quantize-weights");
  REQUIRE(quantized);
  CHECK(quantized->tensors.size() == 1);  // bits=8: the protected layer stays float
  REQUIRE(quantized->skipped.size() == 1);
  CHECK(quantized->skipped[0].reason.find("protected") != std::string::npos);
  std::filesystem::remove(file);
}

TEST_CASE("pass manager: records, counters and typed results, verification after every pass") {
  ir::Model m = mlp();
  m.graph.nodes.push_back(node("Relu", {"y"}, {"unused"}));  // dead
  auto manager = passes::PassManager::from_text("dce,quantize-weights{bits=8}");
  REQUIRE(manager.ok());
  CHECK(manager->pipeline_text() == "dce,quantize-weights{bits=8}");
  passes::AnalysisManager am;
  passes::Remarks remarks;
  passes::PassContext ctx(am, remarks);
  REQUIRE(manager->run(m, ctx).ok());
  const auto& records = manager->records();
  REQUIRE(records.size() == 2);
  CHECK(records[0].nodes_before == 4);
  CHECK(records[0].nodes_after == 3);
  CHECK(records[0].counters.at("nodes-removed") == 1);
  CHECK(records[0].result == nullptr);
  CHECK(records[1].counters.at("weights-quantized") == 2);
  CHECK(records[1].weight_bytes_after < records[1].weight_bytes_before);
  const nlohmann::json j = records[1].to_json(/*timing=*/false);
  CHECK(j["result"]["tensors"].size() == 2);
  CHECK(!j.contains("seconds"));

  // A pass that leaves an invalid graph is an internal error naming it.
  ir::Model broken = mlp();
  passes::PassContext ctx2(am, remarks);
  BreakGraph breaker;
  REQUIRE(breaker.run(broken, ctx2).ok());
  CHECK(!ir::verify_model(broken).ok());
}

TEST_CASE("pass manager: bad pipelines name the pass and the option") {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : {Case{"no-such-pass", "unknown pass 'no-such-pass'"},
                        Case{"dce{x=1}", "has no option 'x'"},
                        Case{"quantize-weights{bits=four}", "expects int"},
                        Case{"quantize-weights{bits=5}", "bits must be 8 or 4"},
                        Case{"quantize-weights{block=-3}", "block must be"},
                        Case{"analyze-importance{loss=banana}", "unknown loss"},
                        Case{"dce,,dce", "bad pipeline"}}) {
    CAPTURE(c.text);
    auto manager = passes::PassManager::from_text(c.text);
    Status s = manager.ok() ? Status::Ok() : manager.status();
    if (manager.ok()) {  // option values are checked when the pass runs
      ir::Model m = mlp();
      passes::AnalysisManager am;
      passes::Remarks remarks;
      passes::PassContext ctx(am, remarks);
      s = manager->run(m, ctx);
    }
    REQUIRE(!s.ok());
    CHECK(s.code() == StatusCode::kInvalidInput);
    CHECK(s.message().find(c.says) != std::string::npos);
  }
}

TEST_CASE("options tables: defaults come from the options struct") {
  bool found = false;
  for (const auto& spec : passes::WeightQuantization::option_specs())
    if (spec.name == "min-size") {
      found = true;
      CHECK(spec.type == "int");
      CHECK(spec.default_value == "1024");
    }
  CHECK(found);
  for (const auto& spec : passes::AnalyzeImportance::option_specs())
    if (spec.name == "loss") CHECK(spec.default_value == "auto");
}

TEST_CASE("layer model: layouts, tied weights through Transpose, and why a weight is blocked") {
  // x -> Gemm(W1 [8, 6], transB=1) -> h;  ids -> Gather(E [10, 6]);  h -> MatMul(Transpose(E)) -> y
  ir::Model m = make_model({node("Gemm", {"x", "w1"}, {"h"}, {int_attr("transB", 1)}), node("Gather", {"e", "ids"}, {"g"}),
                            node("Transpose", {"e"}, {"et"}), node("MatMul", {"h", "et"}, {"y"}),
                            node("Mul", {"x", "w3"}, {"z"}), node("MatMul", {"z", "w3"}, {"u"})},
                           {-1, 6}, {{"w1", random_tensor({8, 6}, 1)}, {"e", random_tensor({10, 8}, 2)},
                                     {"w3", random_tensor({6, 6}, 3)}});
  auto layers = passes::analysis::build_layer_model(m.graph);
  REQUIRE(layers.ok());
  const auto* w1 = layers->find("w1");
  REQUIRE(w1);
  CHECK(w1->channel_axis == 0);
  CHECK(w1->channels == 8);
  CHECK(w1->reduction == 6);
  CHECK(w1->op == "Gemm");
  CHECK(w1->input == "x");
  CHECK(w1->blocker.empty());
  const auto* e = layers->find("e");
  REQUIRE(e);
  CHECK(e->op_types() == "Gather+MatMul");
  CHECK(e->op == "MatMul");     // the primary use is the LM-head-like MatMul
  CHECK(e->channel_axis == 0);  // one row per vocabulary entry, for both readers
  CHECK(e->channels == 10);
  CHECK(e->blocker.empty());
  const auto* w3 = layers->find("w3");
  REQUIRE(w3);
  CHECK(w3->blocker.find("Mul") != std::string::npos);
  // canonical_matrix and from_canonical are inverse for either layout.
  for (const char* name : {"w1", "e"}) {
    const auto* l = layers->find(name);
    const Tensor& w = *m.graph.find_initializer(name);
    const Tensor back = passes::analysis::from_canonical(*l, passes::analysis::canonical_matrix(*l, w));
    CHECK(back.same_content(w));
  }
}

}  // namespace ember::pass_infra_test

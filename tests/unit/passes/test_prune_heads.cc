// prune-structured heads=R: head groups found on built attention blocks (fused QKV + Split,
// separate projections with Concat head shapes), the physical shrink of every head-count
// constant, kept heads' outputs unchanged, recovery that reduces the error, unsafe blocks
// left alone, bad options, and the real models (kjv-gpt2-tiny from samples/, kjv-bert from
// ../shared/models, skipped visibly when absent).
#include <doctest/doctest.h>

#include <filesystem>

#include "calibration/evaluation.h"
#include "formats/onnx_load.h"
#include "passes/prune/head_pruning.h"
#include "tests/unit/passes/prune_heads_test_util.h"

using namespace ember;
using namespace ember::head_test;

namespace {

std::vector<float> floats(const ir::Model& m, const std::string& name) { return m.graph.find_initializer(name)->to_floats().value(); }

// Heads of the original whose Wo rows survive in the pruned Wo (recovery=none keeps them as they were).
std::vector<int64_t> kept_heads(const ir::Model& original, const ir::Model& pruned) {
  const std::vector<float> wo = floats(original, "Wo"), kept = floats(pruned, "Wo");
  std::vector<int64_t> out;
  for (int64_t h = 0; h < kHeads; ++h)
    for (size_t j = 0; j + kDim * kOut <= kept.size(); j += kDim * kOut)
      if (std::equal(kept.begin() + long(j), kept.begin() + long(j + kDim * kOut), wo.begin() + h * kDim * kOut)) out.push_back(h);
  return out;
}

// The original with the Wo rows of the heads not in `kept` zeroed: what removing them must compute.
ir::Model zeroed_reference(const ir::Model& original, const std::vector<int64_t>& kept) {
  ir::Model ref = original;
  std::vector<float> wo = floats(original, "Wo");
  for (int64_t h = 0; h < kHeads; ++h)
    if (std::find(kept.begin(), kept.end(), h) == kept.end())
      std::fill(wo.begin() + h * kDim * kOut, wo.begin() + (h + 1) * kDim * kOut, 0.0f);
  ref.graph.set_initializer("Wo", Tensor::from_vector<float>({kEmbed, kOut}, wo));
  return ref;
}

double head_error(ir::Model (*make)(), const std::string& pipeline) { return pipeline_error(make(), pipeline); }

}  // namespace

TEST_CASE("prune heads: the fused and the separate blocks are found with every head-count constant") {
  for (auto make : {fused_attention_model, fused_slice_attention_model, separate_attention_model}) {
    const passes::prune::HeadGroup g = the_head_group(make);
    CHECK(g.heads() == kHeads);
    CHECK(g.head_dim() == kDim);
    CHECK(g.output.node == "out_proj");
    const bool fused = make != separate_attention_model;
    CHECK(g.projections.size() == (fused ? 1u : 3u));
    CHECK(g.projections[0].sections == (fused ? 3 : 1));
    // fused: 3 split sizes (or 3 starts and 2 finite ends), the shared head shape read by 3 Reshapes,
    // the merge shape; separate: 3 + 1 Concat pieces.
    CHECK(g.edits.size() == (make == fused_attention_model ? 7u : fused ? 9u : 4u));
  }
}

TEST_CASE("prune heads: the shrink keeps the kept heads' outputs exactly (recovery=none)") {
  for (auto make : {fused_attention_model, fused_slice_attention_model, separate_attention_model}) {
    ScratchDir dir("heads_shrink");
    ir::Model m = make();
    const ir::Model original = m;
    auto calib = attention_calibration(dir, m);
    passes::Remarks remarks;
    REQUIRE(run_pipeline(m, "prune-structured{ffn=0,heads=0.5,head-score=magnitude,recovery=none},dce", &calib, &remarks).ok());
    CHECK(remarks.stats["prune-structured"]["heads-removed"] == 2);
    CHECK(m.graph.find_initializer("Wo")->shape() == Shape{kEmbed / 2, kOut});
    if (make == fused_slice_attention_model) {
      CHECK(values_of<int64_t>(*m.graph.find_initializer("k_start")) == std::vector<int64_t>{4});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("k_end")) == std::vector<int64_t>{8});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("v_end")) == std::vector<int64_t>{INT64_MAX});
    }
    if (make != separate_attention_model) {
      CHECK(m.graph.find_initializer("Wqkv")->shape() == Shape{kEmbed, 3 * kEmbed / 2});
      CHECK(m.graph.find_initializer("bqkv")->shape() == Shape{3 * kEmbed / 2});
      if (make == fused_attention_model)
        CHECK(values_of<int64_t>(*m.graph.find_initializer("split_sizes")) == std::vector<int64_t>{4, 4, 4});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("merge_shape")) == std::vector<int64_t>{0, 0, 4});
    } else {
      for (const char* w : {"Wq", "Wk", "Wv"}) CHECK(m.graph.find_initializer(w)->shape() == Shape{kEmbed, kEmbed / 2});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("heads_c")) == std::vector<int64_t>{2});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("all_c")) == std::vector<int64_t>{4});
    }
    const std::vector<int64_t> kept = kept_heads(original, m);
    REQUIRE(kept.size() == 2);
    const Tensor x = attention_input(3, 4);
    const Tensor expected = run(zeroed_reference(original, kept), {{"x", x}})[0];
    CHECK(relative_error(run(m, {{"x", x}})[0], expected) < 1e-6);
    CHECK(relative_error(run(m, {{"x", x}})[0], run(original, {{"x", x}})[0]) > 1e-3);
  }
}

TEST_CASE("prune heads: ratio 0 changes nothing - recovery reduces the error - every score runs") {
  ScratchDir dir("heads_zero");
  ir::Model m = fused_attention_model();
  const ir::Model original = m;
  auto calib = attention_calibration(dir, m);
  REQUIRE(run_pipeline(m, "prune-structured{ffn=0,heads=0,head-score=magnitude}", &calib).ok());
  CHECK(m.graph.find_initializer("Wqkv")->same_content(*original.graph.find_initializer("Wqkv")));
  for (auto make : {fused_attention_model, separate_attention_model}) {
    const std::string base = "prune-structured{ffn=0,heads=0.5,head-score=magnitude,recovery=";
    const double none = head_error(make, base + "none}"), bias = head_error(make, base + "bias}"),
                 lsq = head_error(make, base + "lsq}"), seq = head_error(make, base + "lsq-seq}");
    INFO("none ", none, " bias ", bias, " lsq ", lsq, " lsq-seq ", seq);
    CHECK(bias < none);
    CHECK(lsq < bias);
    CHECK(seq == doctest::Approx(lsq).epsilon(1e-2));  // one block: no upstream drift
    // head-select=obs: the same count, the heads the refit restores best (obs_selection.h).
    const double obs = head_error(make, base + "lsq,head-select=obs}");
    INFO("head-select=obs ", obs);
    CHECK(obs <= lsq * 1.0001);
    for (const char* score : {"taylor", "fisher", "taylor-first", "wanda", "fluctuation"}) {
      INFO(score);
      CHECK(head_error(make, std::string("prune-structured{ffn=0,heads=0.5,recovery=lsq,head-score=") + score + "}") < none);
    }
  }
}

TEST_CASE("prune heads: an unsafe block is left alone with the reason - bad options are refused") {
  ScratchDir dir("heads_bad");
  ir::Model m = fused_attention_model();
  m.graph.outputs.push_back(tensor_info("p", DType::kF32, {-1, kHeads, kSeq, kSeq}));  // the attention probabilities escape
  auto calib = attention_calibration(dir, m);
  auto found = head_groups_of(m, calib);
  REQUIRE(found.ok());
  CHECK(found->groups.empty());
  REQUIRE(found->skipped.size() == 1);
  CHECK(found->skipped[0].reason.find("'p' is a graph output") != std::string::npos);
  const ir::Model original = m;
  const Status s = run_pipeline(m, "prune-structured{ffn=0,heads=0.5,head-score=magnitude}", &calib);
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("no prunable attention heads") != std::string::npos);
  CHECK(m.graph.find_initializer("Wqkv")->shape() == original.graph.find_initializer("Wqkv")->shape());
  // A head count computed at run time cannot be proven: the block is left alone.
  ir::Model dynamic = separate_attention_model();
  auto& nodes = dynamic.graph.nodes;
  for (auto& n : nodes)
    if (n.name == "split_concat") n.inputs[1] = "heads_rt";
  nodes.insert(nodes.begin(), node("Identity", "heads_view", {"heads_c"}, {"heads_rt"}));
  auto calib2 = attention_calibration(dir, dynamic);
  const Status d = run_pipeline(dynamic, "prune-structured{ffn=0,heads=0.5,head-score=magnitude}", &calib2);
  CHECK(d.code() == StatusCode::kInvalidInput);
  INFO(d.message());
  CHECK(d.message().find("_heads' has a shape Ember cannot trace to constants") != std::string::npos);
  ir::Model ok = fused_attention_model();
  for (const char* bad : {"prune-structured{heads=1}", "prune-structured{heads=-0.1}",
                          "prune-structured{ffn=0,heads=0.5,head-score=obs}"}) {
    INFO(bad);
    CHECK(run_pipeline(ok, bad, &calib).code() == StatusCode::kInvalidInput);
  }
  CHECK(ok.graph.find_initializer("Wqkv")->shape() == Shape{kEmbed, 3 * kEmbed});
}

TEST_CASE("prune heads: a per-block count overrides the ratio") {
  ScratchDir dir("heads_per_block");
  ir::Model m = separate_attention_model();
  auto calib = attention_calibration(dir, m);
  passes::AnalysisManager analyses(&calib);
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  passes::prune::HeadPruneOptions o;
  o.score = passes::prune::NeuronScore::kMagnitude;
  o.per_block["q_proj"] = 3;
  ir::Model pruned = m;
  auto outcome = passes::prune::prune_heads(m, pruned, ctx, o);
  REQUIRE(outcome.ok());
  CHECK(outcome->removed == 3);
  CHECK(pruned.graph.find_initializer("Wo")->shape() == Shape{kDim, kOut});
  REQUIRE(outcome->layers.size() == 1);
  CHECK(outcome->layers[0].units_after == 1);
  CHECK(outcome->layers[0].unit == "heads");
  // The same through the pass option; a block name that is not one, or a bad count, is refused.
  ir::Model p = m;
  REQUIRE(run_pipeline(p, "prune-structured{ffn=0,heads-per-block=q_proj:2,head-score=magnitude}", &calib).ok());
  CHECK(p.graph.find_initializer("Wo")->shape() == Shape{2 * kDim, kOut});
  for (const char* bad : {"prune-structured{ffn=0,heads-per-block=nope:1}", "prune-structured{ffn=0,heads-per-block=q_proj:x}",
                          "prune-structured{ffn=0,heads-per-block=q_proj}"}) {
    INFO(bad);
    CHECK(run_pipeline(p, bad, &calib).code() == StatusCode::kInvalidInput);
  }
}

TEST_CASE("prune heads: real models - kjv-gpt2-tiny (fused c_attn) and kjv-bert (separate, Concat shapes)") {
  struct Case {
    std::string model, calib, pipeline;
    int64_t batch;
  };
  const std::string samples = std::string(EMBER_SOURCE_DIR) + "/samples", shared = std::string(EMBER_SOURCE_DIR) + "/../shared";
  const std::vector<Case> cases = {
      {samples + "/kjv-gpt2-tiny.onnx", samples + "/kjv-lm-calib.npy", "heads=0.5,head-score=magnitude", 1},
      {shared + "/models/kjv-bert.onnx", shared + "/data/kjv-cls-calib.npz", "heads=0.25,head-score=magnitude", 4}};
  for (const Case& c : cases) {
    if (!std::filesystem::exists(c.model) || !std::filesystem::exists(c.calib)) {
      MESSAGE("skipped: " << c.model << " is absent");
      continue;
    }
    auto model = formats::load_onnx(c.model);
    REQUIRE(model.ok());
    calibration::CalibrationOptions co;
    co.batch = c.batch;
    co.limit = 8;
    auto calib = calibration::CalibrationSet::open(c.calib, model->graph.feed_inputs(), co);
    REQUIRE(calib.ok());
    ir::Model none = *model, lsq = *model;
    const std::string p = "constants-to-initializers,prune-structured{ffn=0," + c.pipeline;
    passes::Remarks remarks;
    REQUIRE(run_pipeline(none, p + ",recovery=none},dce", &*calib, &remarks).ok());
    REQUIRE(run_pipeline(lsq, p + ",recovery=lsq},dce", &*calib).ok());
    CHECK(remarks.stats["prune-structured"]["heads-removed"] > 0);
    auto feeds = calib->batch(0);
    const Tensor base = run(*model, feeds)[0];
    const double e_none = relative_error(run(none, feeds)[0], base), e_lsq = relative_error(run(lsq, feeds)[0], base);
    INFO(c.model, " none ", e_none, " lsq ", e_lsq);
    CHECK(e_none > 0);
    CHECK(e_lsq < e_none);
  }
}

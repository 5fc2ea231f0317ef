// prune-structured on a tiny Llama (tests/fixtures/tiny_llama.h: RMSNorm, rotary, SwiGLU,
// grouped-query attention with 4 query and 2 key/value heads): the gated FFN groups (gate and
// up columns with the down row) and the GQA groups (a KV head with its two query heads, every
// head-count constant) are found; removing units whose output rows are zero leaves the logits
// as they were (1e-5), which checks the whole wiring; every score and recovery runs and the
// pruned graph verifies; a Tile of the head axis is refused with the reason; the importance
// analysis gives the gate and up projections the same whole-group scores, and a KV group its own.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "passes/analysis/importance.h"
#include "passes/analysis/layer_model.h"
#include "passes/prune/ffn_groups.h"
#include "passes/prune/head_pruning.h"
#include "passes/prune/prune_structured.h"
#include "ir/builders.h"
#include "tests/fixtures/tiny_llama.h"
#include "tests/unit/passes/tiny_llama_calib.h"
#include "tests/unit/passes/activation_test_util.h"

using namespace ember;
using namespace ember::act_test;

namespace {

const std::string kL0 = "model.layers.0.";

calibration::CalibrationSet llama_calibration(const ScratchDir& dir, const ir::Model& m) {
  return test::tiny_llama_calibration(dir.file("ids.npy"), m);
}

Tensor logits(const ir::Model& m) {
  return run(m, {{"input_ids", test_fixtures::tiny_llama_ids(test_fixtures::tiny_llama_config(), 4, 8, 9)}})[0];
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
  return d;
}

// Zeroes rows [r0, r1) of the [rows, cols] weight `name`.
void zero_rows(ir::Model& m, const std::string& name, int64_t r0, int64_t r1) {
  Tensor w = m.graph.find_initializer(name)->clone();
  std::fill(w.mutable_data<float>() + r0 * w.dim(1), w.mutable_data<float>() + r1 * w.dim(1), 0.0f);
  m.graph.set_initializer(name, w);
}

Shape shape_of(const ir::Model& m, const std::string& name) { return m.graph.find_initializer(name)->shape(); }

// The tiny Llama as other exporters write it: GeGLU (a Gelu op on the gate, opset 20) instead of
// x * Sigmoid(x), and K/V repeated by an Expand of a new axis (Hugging Face's repeat_kv)
// instead of a Concat of copies.
ir::Model geglu_expand_llama() {
  ir::Model m = test_fixtures::tiny_llama(test_fixtures::tiny_llama_config());
  m.opset_imports = {{"", 20}};
  m.graph.set_initializer("expand_kv", Tensor::from_vector<int64_t>({5}, {1, 2, 2, 1, 1}));
  std::set<std::string> sigmoids;
  for (auto& n : m.graph.nodes) {
    if (n.op_type == "Concat" && n.attr_int("axis", 0) == 2 && n.inputs.size() == 2 && n.inputs[0] == n.inputs[1])
      n = ir::make_node("Expand", n.name, {n.inputs[0], "expand_kv"}, n.outputs);
    for (const auto& s : m.graph.nodes)
      if (n.op_type == "Mul" && s.op_type == "Sigmoid" && n.inputs[1] == s.outputs[0]) {
        sigmoids.insert(s.name);
        n = ir::make_node("Gelu", n.name, {n.inputs[0]}, n.outputs);
      }
  }
  std::erase_if(m.graph.nodes, [&](const ir::Node& n) { return sigmoids.count(n.name) > 0; });
  return m;
}

}  // namespace

TEST_CASE("prune glu: the gated FFNs and the grouped-query blocks of a tiny Llama are found") {
  ScratchDir dir("glu_find");
  const ir::Model m = test_fixtures::tiny_llama(test_fixtures::tiny_llama_config());
  auto layers = passes::analysis::build_layer_model(m.graph);
  REQUIRE(layers.ok());
  const auto ffn = passes::prune::find_ffn_groups(m.graph, *layers);
  for (const auto& s : ffn.skipped) {  // o_proj and down_proj reach the next layer through RMSNorm's ReduceMean
    INFO(s.layer, ": ", s.reason);
    CHECK(s.reason.find("ReduceMean") != std::string::npos);
  }
  REQUIRE(ffn.groups.size() == 2);
  const auto& g = ffn.groups[0];
  CHECK(g.first.weight == kL0 + "mlp.gate_proj.weight");
  REQUIRE(g.parallel.size() == 1);
  CHECK(g.parallel[0].weight == kL0 + "mlp.up_proj.weight");
  CHECK(g.second.weight == kL0 + "mlp.down_proj.weight");
  CHECK(g.neurons == 48);
  CHECK(g.input_width() == 64);
  auto calib = llama_calibration(dir, m);
  passes::AnalysisManager analyses(&calib);
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  auto heads = passes::prune::find_model_head_groups(m, ctx);
  REQUIRE(heads.ok());
  for (const auto& s : heads->skipped) INFO(s.layer, ": ", s.reason);
  CHECK(heads->skipped.empty());
  REQUIRE(heads->groups.size() == 2);
  const auto& h = heads->groups[0];
  CHECK(h.grouped_query());
  CHECK(h.heads() == 4);
  CHECK(h.units() == 2);
  CHECK(h.head_dim() == 8);
  CHECK(h.projections.size() == 3);
  CHECK(h.output.weight == kL0 + "self_attn.o_proj.weight");
  // Q's head shape, K's and V's, the two repeats to 4 heads, the merge to the hidden width.
  CHECK(h.edits.size() == 6);
}

// Zeroes the down rows of neurons 36..47 of both FFNs and the o_proj rows of layer 0's KV group 1
// (query heads 2, 3), prunes 25% of the neurons and one KV group by magnitude without recovery,
// and compares the logits with the zeroed model's.
namespace {

void check_zero_units_removed(ir::Model m) {
  ScratchDir dir("glu_zero");
  for (const char* l : {"model.layers.0.", "model.layers.1."}) zero_rows(m, std::string(l) + "mlp.down_proj.weight", 36, 48);
  zero_rows(m, kL0 + "self_attn.o_proj.weight", 16, 32);
  const ir::Model reference = m;
  auto calib = llama_calibration(dir, m);
  passes::Remarks remarks;
  const Status s = run_pipeline(m, "prune-structured{ffn=0.25,heads=0.25,score=magnitude,head-score=magnitude,recovery=none},dce",
                                &calib, &remarks);
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(remarks.stats["prune-structured"]["neurons-removed"] == 24);
  CHECK(remarks.stats["prune-structured"]["heads-removed"] == 1);
  for (const char* w : {"mlp.gate_proj.weight", "mlp.up_proj.weight"}) CHECK(shape_of(m, kL0 + w) == Shape{32, 36});
  CHECK(shape_of(m, kL0 + "mlp.down_proj.weight") == Shape{36, 32});
  CHECK(shape_of(m, kL0 + "self_attn.q_proj.weight") == Shape{32, 16});
  CHECK(shape_of(m, kL0 + "self_attn.k_proj.weight") == Shape{32, 8});
  CHECK(shape_of(m, kL0 + "self_attn.v_proj.weight") == Shape{32, 8});
  CHECK(shape_of(m, kL0 + "self_attn.o_proj.weight") == Shape{16, 32});
  CHECK(shape_of(m, "model.layers.1.self_attn.q_proj.weight") == Shape{32, 32});
  const double diff = max_abs_diff(logits(m), logits(reference));
  INFO("max |logit difference| ", diff);
  CHECK(diff < 1e-5);
}

// Layer 0's neurons 36..47 made copies of 0..11 (gate and up columns), with 0.1 of their down rows.
ir::Model with_copied_neurons(const ir::Model& original) {
  ir::Model m = original;
  for (const char* name : {"mlp.gate_proj.weight", "mlp.up_proj.weight"}) {
    Tensor w = m.graph.find_initializer(kL0 + name)->clone();  // [32, 48]
    for (int64_t r = 0; r < 32; ++r)
      for (int64_t i = 0; i < 12; ++i) w.mutable_data<float>()[r * 48 + 36 + i] = w.data<float>()[r * 48 + i];
    m.graph.set_initializer(kL0 + name, w);
  }
  Tensor down = m.graph.find_initializer(kL0 + "mlp.down_proj.weight")->clone();  // [48, 32]
  for (int64_t i = 0; i < 12; ++i)
    for (int64_t c = 0; c < 32; ++c) down.mutable_data<float>()[(36 + i) * 32 + c] = 0.1f * down.data<float>()[i * 32 + c];
  m.graph.set_initializer(kL0 + "mlp.down_proj.weight", down);
  return m;
}

}  // namespace

TEST_CASE("prune glu: removing units whose output rows are zero leaves the logits as they were") {
  SUBCASE("SwiGLU, K/V repeated by a Concat of copies") { check_zero_units_removed(test_fixtures::tiny_llama(test_fixtures::tiny_llama_config())); }
  SUBCASE("GeGLU, K/V repeated by an Expand") { check_zero_units_removed(geglu_expand_llama()); }
}

TEST_CASE("prune glu: every score and recovery runs on the tiny Llama - the table counts units, parameters and MACs") {
  ScratchDir dir("glu_scores");
  const ir::Model original = test_fixtures::tiny_llama(test_fixtures::tiny_llama_config());
  auto calib = llama_calibration(dir, original);
  // Output `index` of the pruned model against the original's (0: the logits; 1: layer 0's down projection).
  auto error = [&](const std::string& options, size_t index = 0, bool copies = false) {
    ir::Model m = copies ? with_copied_neurons(original) : original, reference = m;
    for (ir::Model* model : {&m, &reference})
      for (const auto& n : model->graph.nodes)
        if (n.op_type == "MatMul" && n.inputs[1] == kL0 + "mlp.down_proj.weight")
          model->graph.outputs.push_back(tensor_info(n.outputs[0], DType::kF32, {-1, -1, 32}));
    const Status s = run_pipeline(m, "prune-structured{" + options + "}", &calib);
    INFO(options, ": ", s.message());
    REQUIRE(s.ok());
    const auto ids = test_fixtures::tiny_llama_ids(test_fixtures::tiny_llama_config(), 4, 8, 9);
    return relative_error(run(m, {{"input_ids", ids}})[index], run(reference, {{"input_ids", ids}})[index]);
  };
  // Random weights give neurons that the others cannot predict, where no refit helps: with
  // neurons 36..47 of layer 0 copies of 0..11 (their down rows scaled by 0.1, so that magnitude
  // removes them), the refit of the down projection folds them into the originals.
  const double none = error("ffn=0.25,ranking=uniform,score=magnitude,recovery=none", 1, true),
               lsq = error("ffn=0.25,ranking=uniform,score=magnitude,recovery=lsq", 1, true);
  INFO("down_proj output error: none ", none, " lsq ", lsq);
  CHECK(none > 1e-2);
  CHECK(lsq < 0.1 * none);
  for (const char* score : {"taylor", "fisher", "taylor-first", "wanda", "fluctuation", "magnitude"})
    CHECK(error(std::string("ffn=0.3,heads=0.5,recovery=lsq,score=") + score + ",head-score=" + score) < 1.0);
  CHECK(error("ffn=0.3,heads=0.5,score=obs,head-score=wanda,recovery=lsq-seq") < 1.0);
  // The per-layer rows: 48 -> 34 neurons (uniform 30%), 2 -> 1 KV groups.
  ir::Model m = original;
  auto manager = passes::PassManager::from_text("prune-structured{ffn=0.3,heads=0.5,ranking=uniform,score=magnitude,head-score=magnitude}");
  REQUIRE(manager.ok());
  passes::AnalysisManager analyses(&calib);
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  REQUIRE(manager->run(m, ctx).ok());
  const auto result = manager->last_result<passes::PruneResult>("prune-structured");
  REQUIRE(result);
  REQUIRE(result->layers.size() == 4);
  const auto& f = result->layers[0];
  CHECK(f.unit == "neurons");
  CHECK(f.units_before == 48);
  CHECK(f.units_after == 34);
  CHECK(f.params_before == 48 * (32 + 32 + 32));
  CHECK(f.macs_after == 34 * (32 + 32 + 32));
  const auto& h = result->layers[2];
  CHECK(h.unit == "kv-groups");
  CHECK(h.units_before == 2);
  CHECK(h.units_after == 1);
  CHECK(h.params_before == 32 * 32 + 2 * 32 * 16 + 32 * 32);  // q, k, v, o
  CHECK(h.params_after == h.params_before / 2);
  CHECK(result->model_macs_after < result->model_macs_before);
}

TEST_CASE("prune glu: a Tile of the head axis (query head h reads KV head h mod G) is refused with the reason") {
  ScratchDir dir("glu_tile");
  ir::Model m = test_fixtures::tiny_llama(test_fixtures::tiny_llama_config());
  m.graph.set_initializer("tile_heads", Tensor::from_vector<int64_t>({4}, {1, 2, 1, 1}));
  std::map<std::string, std::string> first_input;  // a node's output -> its first input
  for (const auto& n : m.graph.nodes) first_input[n.outputs[0]] = n.inputs.empty() ? "" : n.inputs[0];
  for (auto& n : m.graph.nodes)  // Reshape(Concat(copies of Unsqueeze(kv))) -> Tile(kv) along the head axis
    if (n.op_type == "Reshape" && n.inputs[1] == "shape_repeated")
      n = ir::make_node("Tile", n.name, {first_input[first_input[n.inputs[0]]], "tile_heads"}, n.outputs);
  REQUIRE(run_pipeline(m, "dce", nullptr).ok());
  auto calib = llama_calibration(dir, m);
  passes::AnalysisManager analyses(&calib);
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  auto heads = passes::prune::find_model_head_groups(m, ctx);
  REQUIRE(heads.ok());
  CHECK(heads->groups.empty());
  REQUIRE(heads->skipped.size() == 4);
  CHECK(heads->skipped[0].reason.find("grouped-query attention (4 query heads, 2 key/value heads)") != std::string::npos);
  CHECK(heads->skipped[0].reason.find("repeats the heads along the head axis") != std::string::npos);
  const Status s = run_pipeline(m, "prune-structured{ffn=0,heads=0.5,head-score=magnitude}", &calib);
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("no prunable attention heads") != std::string::npos);
}

TEST_CASE("prune glu: the importance analysis scores a gated neuron as one group (gate and up columns, down row)") {
  ScratchDir dir("glu_importance");
  const ir::Model m = test_fixtures::tiny_llama(test_fixtures::tiny_llama_config());
  auto calib = llama_calibration(dir, m);
  passes::AnalysisManager analyses(&calib);
  auto report = analyses.get<passes::analysis::ImportanceAnalysis>(m);
  REQUIRE(report.ok());
  const passes::analysis::TensorImportance *gate = nullptr, *up = nullptr;
  for (const auto& t : (*report)->tensors) {
    if (t.name == kL0 + "mlp.gate_proj.weight") gate = &t;
    if (t.name == kL0 + "mlp.up_proj.weight") up = &t;
  }
  REQUIRE(gate);
  REQUIRE(up);
  REQUIRE(gate->groups.taylor.size() == 48);
  // Both first layers report the whole group's scores; the whole group outweighs its first layers.
  CHECK(gate->groups.taylor == up->groups.taylor);
  CHECK(gate->groups.fisher == up->groups.fisher);
  CHECK(gate->groups.taylor_first == up->groups.taylor_first);
  for (size_t n = 0; n < 48; ++n) CHECK(gate->groups.fisher[n] > gate->groups.fisher_first[n]);
  // A KV group's Taylor score is its own |sum g w|: at most the sum of its parts' scores.
  const passes::analysis::HeadImportance *q = nullptr, *kv = nullptr;
  for (const auto& h : (*report)->heads)
    if (h.block.input == (*report)->heads[0].block.input) (h.block.heads == 4 ? q : kv) = &h;
  REQUIRE(q);
  REQUIRE(kv);
  CHECK(q->group_taylor.empty());
  REQUIRE(kv->group_taylor.size() == 2);
  REQUIRE(kv->group_taylor_first.size() == 2);
  for (size_t g = 0; g < 2; ++g) {
    CHECK(kv->group_taylor[g] > 0);
    CHECK(kv->group_taylor[g] <= q->taylor[2 * g] + q->taylor[2 * g + 1] + kv->taylor_first[g] + 1e-12);
  }
}

// prune-structured head-width=R (passes/prune/head_width.h): the roles (query, key, value) and
// head-dimension constants found on the built blocks (fused QKV + Split, fused + Slices,
// separate projections with Concat shapes); narrowing is exact when every head's query and
// value live in a d'-dimensional subspace that is not made of channels (the whitened SVD finds
// it, keeping channels cannot); the shrink of every tensor and constant; recovery lowers the
// error on random weights; bad options; blocks with rotary embeddings and grouped-query
// attention keep their width with the reason; the real kjv-gpt2-tiny.
#include <doctest/doctest.h>

#include "passes/prune/head_pruning.h"
#include "passes/prune/head_width.h"
#include "tests/fixtures/tiny_llama.h"
#include "tests/unit/passes/tiny_llama_calib.h"
#include "tests/unit/passes/prune_heads_test_util.h"
#include "tests/unit/passes/tiny_gpt2_run.h"

using namespace ember;
using namespace ember::head_test;

namespace {

// Column c of the [rows, cols] weight `name` becomes `alpha` times column c0 (and the same for
// the bias entries when `bias` is given): that channel then carries no direction of its own.
void tie_column(ir::Model& m, const std::string& name, const std::string& bias, int64_t c, int64_t c0, float alpha) {
  Tensor w = m.graph.find_initializer(name)->clone();
  const int64_t rows = w.dim(0), cols = w.dim(1);
  for (int64_t r = 0; r < rows; ++r) w.mutable_data<float>()[r * cols + c] = alpha * w.data<float>()[r * cols + c0];
  m.graph.set_initializer(name, w);
  if (bias.empty()) return;
  Tensor b = m.graph.find_initializer(bias)->clone();
  b.mutable_data<float>()[c] = alpha * b.data<float>()[c0];
  m.graph.set_initializer(bias, b);
}

// Every head's query and value in a 1-D subspace (channel 1 = a multiple of channel 0).
ir::Model rank_one_heads(ir::Model (*make)()) {
  ir::Model m = make();
  const bool fused = make != separate_attention_model;
  for (int64_t h = 0; h < kHeads; ++h) {
    if (fused) {
      tie_column(m, "Wqkv", "bqkv", h * kDim + 1, h * kDim, -0.7f);                          // query section
      tie_column(m, "Wqkv", "bqkv", (2 * kHeads + h) * kDim + 1, (2 * kHeads + h) * kDim, 1.3f);  // value section
    } else {
      tie_column(m, "Wq", "bq", h * kDim + 1, h * kDim, -0.7f);
      tie_column(m, "Wv", "bv", h * kDim + 1, h * kDim, 1.3f);
    }
  }
  return m;
}

// The constant node `node` reads as input `input` (a shared constant gets a copy per reader).
std::vector<int64_t> read_constant(const ir::Model& m, const std::string& node, size_t input) {
  for (const auto& n : m.graph.nodes)
    if (n.name == node) {
      const Tensor* t = m.graph.find_initializer(n.inputs[input]);
      REQUIRE(t != nullptr);
      return values_of<int64_t>(*t);
    }
  FAIL("no node " << node);
  return {};
}

double narrowed_error(const ir::Model& original, const std::string& options, ir::Model* out = nullptr) {
  return pipeline_error(original, "prune-structured{ffn=0," + options + "},dce", out);
}

}  // namespace

TEST_CASE("head width: query, key and value and the head-dimension constants are found on every layout") {
  for (auto make : {fused_attention_model, fused_slice_attention_model, separate_attention_model}) {
    const passes::prune::HeadGroup g = the_head_group(make);
    INFO(g.width_refusal);
    CHECK(g.width_refusal.empty());
    REQUIRE(g.roles.size() == 3);
    int roles[3] = {0, 0, 0};
    for (const auto& r : g.roles) ++roles[int(r.role)];
    CHECK((roles[0] == 1 && roles[1] == 1 && roles[2] == 1));
    if (make == separate_attention_model) {  // projections sorted by node: k_proj, q_proj, v_proj
      CHECK(g.dim_edits.size() == 3);  // the shared Concat piece, read by each head Reshape's Concat
    } else {
      for (const auto& r : g.roles) CHECK(r.section == int64_t(r.role));  // sections Q, K, V in order
      CHECK(g.dim_edits.size() == 3);  // the shared head shape, once per head Reshape
    }
  }
}

TEST_CASE("head width: exact on heads of rank d' - the shrink of every tensor and constant") {
  for (auto make : {fused_attention_model, fused_slice_attention_model, separate_attention_model}) {
    const std::string layout = make == separate_attention_model ? "separate" : make == fused_attention_model ? "fused" : "fused, slices";
    INFO(layout);
    const ir::Model original = rank_one_heads(make);
    ir::Model m;
    const double lsq = narrowed_error(original, "head-width=0.5", &m);
    CHECK(lsq < 1e-3);
    CHECK(narrowed_error(original, "head-width=0.5,recovery=none") > 1e-2);  // channels alone cannot be exact
    CHECK(m.graph.find_initializer("Wo")->shape() == Shape{kHeads, kOut});
    if (make == separate_attention_model) {
      for (const char* w : {"Wq", "Wk", "Wv"}) CHECK(m.graph.find_initializer(w)->shape() == Shape{kEmbed, kHeads});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("dim_c")) == std::vector<int64_t>{1});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("heads_c")) == std::vector<int64_t>{kHeads});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("all_c")) == std::vector<int64_t>{kHeads});
    } else {
      CHECK(m.graph.find_initializer("Wqkv")->shape() == Shape{kEmbed, 3 * kHeads});
      CHECK(m.graph.find_initializer("bqkv")->shape() == Shape{3 * kHeads});
      for (const char* r : {"q_heads", "k_heads", "v_heads"}) CHECK(read_constant(m, r, 1) == std::vector<int64_t>{0, 0, kHeads, 1});
      CHECK(values_of<int64_t>(*m.graph.find_initializer("merge_shape")) == std::vector<int64_t>{0, 0, kHeads});
      if (make == fused_attention_model)
        CHECK(values_of<int64_t>(*m.graph.find_initializer("split_sizes")) == std::vector<int64_t>{kHeads, kHeads, kHeads});
      else
        CHECK(values_of<int64_t>(*m.graph.find_initializer("v_start")) == std::vector<int64_t>{2 * kHeads});
    }
  }
}

TEST_CASE("head width: on random heads the whitened bases lose less than the best channels, the mean shift helps") {
  for (auto make : {fused_attention_model, separate_attention_model}) {
    const ir::Model original = make();
    const double none = narrowed_error(original, "head-width=0.5,recovery=none");
    const double bias = narrowed_error(original, "head-width=0.5,recovery=bias");
    const double lsq = narrowed_error(original, "head-width=0.5");
    INFO("none ", none, " bias ", bias, " lsq ", lsq);
    CHECK(none > 1e-3);
    CHECK(bias < none);
    CHECK(lsq < bias);
    CHECK(narrowed_error(original, "head-width=0") == 0);
  }
}

TEST_CASE("head width: bad options - rotary embeddings and grouped-query attention keep their width, with the reason") {
  ScratchDir dir("head_width_bad");
  ir::Model m = fused_attention_model();
  auto calib = attention_calibration(dir, m);
  for (const char* bad : {"prune-structured{ffn=0,head-width=1}", "prune-structured{ffn=0,head-width=-0.1}",
                          "prune-structured{ffn=0,heads=0.25,head-width=0.5}", "prune-structured{ffn=0,head-width=0.5,heads-per-block=qkv:1}"}) {
    INFO(bad);
    CHECK(run_pipeline(m, bad, &calib).code() == StatusCode::kInvalidInput);
  }
  ir::Model llama = test_fixtures::tiny_llama(test_fixtures::tiny_llama_config());
  auto lcalib = test::tiny_llama_calibration(dir.file("ids.npy"), llama);
  const Status s = run_pipeline(llama, "prune-structured{ffn=0,head-width=0.5}", &lcalib);
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("no attention block whose heads can be narrowed") != std::string::npos);
  CHECK(s.message().find("rotary") != std::string::npos);
}

TEST_CASE("head width: the real kjv-gpt2-tiny - narrowed, verified, closer with the whitened bases") {
  test::TinyGpt2Run tiny = test::open_tiny_gpt2();
  ir::Model none = tiny.fp32, lsq = tiny.fp32;
  passes::Remarks remarks;
  REQUIRE(run_pipeline(none, "constants-to-initializers,prune-structured{ffn=0,head-width=0.25,recovery=none},dce", &tiny.calib).ok());
  REQUIRE(run_pipeline(lsq, "constants-to-initializers,prune-structured{ffn=0,head-width=0.25},dce", &tiny.calib, &remarks).ok());
  CHECK(remarks.stats["prune-structured"]["heads-narrowed"] > 0);
  auto feeds = tiny.calib.batch(0);
  const Tensor base = run(tiny.fp32, feeds)[0];
  const double e_none = relative_error(run(none, feeds)[0], base), e_lsq = relative_error(run(lsq, feeds)[0], base);
  INFO("none ", e_none, " lsq ", e_lsq);
  CHECK(e_none > 0);
  CHECK(e_lsq < e_none);
}

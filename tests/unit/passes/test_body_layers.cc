// Layers inside If / Loop / Scan bodies (passes/analysis/body_layers.cc, issue 17): the layer
// model finds them wherever the weight sits, the layer-input statistics gather a Scan body
// layer's input over every iteration as the unrolled network's layer sees it across its steps,
// and importance gives body layers the INT8/INT4 predictions the unrolled network's layers get.
#include <doctest/doctest.h>

#include <filesystem>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "passes/analysis/importance.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/analysis/layer_model.h"
#include "tests/fixtures/loop_scan_models.h"

namespace ember::body_layers_test {
namespace {

namespace pa = passes::analysis;
namespace lsm = loop_scan_models;

constexpr int64_t kSteps = 5, kInputs = 3, kHidden = 4, kClasses = 2;

ir::Model rnn(bool unrolled, bool reverse = false) {
  ir::Model m = unrolled ? lsm::rnn_unrolled_model(1, reverse, kSteps) : lsm::rnn_scan_model(1, reverse);
  lsm::set_rnn_weights(m, kInputs, kHidden, kClasses, 7);
  m.graph.outputs.erase(m.graph.outputs.begin());  // the logits alone
  return m;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ember_body_layers_" + name)).string();
}

Result<calibration::CalibrationSet> open_set(const ir::Model& m, const std::string& path, int64_t batch) {
  calibration::CalibrationOptions co;
  co.batch = batch;
  return calibration::CalibrationSet::open(path, m.graph.feed_inputs(), co);
}

// The summed statistics of `names` (the unrolled network's per-step inputs of one weight).
std::vector<float> merged_hessian(const std::map<std::string, pa::LayerInputStats>& stats, const std::vector<std::string>& names,
                                  int64_t* rows) {
  passes::quant::HessianAccumulator sum(stats.at(names[0]).dim);
  *rows = 0;
  for (const auto& n : names) {
    sum.merge(*stats.at(n).xtx);
    *rows += stats.at(n).rows;
  }
  return sum.hessian();
}

const pa::TensorImportance* find(const pa::ImportanceReport& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("body layers: a Scan body's MatMul weights are layers, read from the outer scope or kept in the body") {
  ir::Model m = rnn(false);
  auto main_only = pa::build_layer_model(m.graph);
  REQUIRE(main_only.ok());
  CHECK(main_only->find("V"));
  CHECK_FALSE(main_only->find("W"));  // the main graph alone does not read W
  auto body = pa::build_body_layers(m.graph);
  REQUIRE_MESSAGE(body.ok(), body.status().message());
  REQUIRE(body->size() == 2);
  const pa::Layer& w = (*body)[0].weight == "W" ? (*body)[0] : (*body)[1];
  const pa::Layer& u = (*body)[0].weight == "W" ? (*body)[1] : (*body)[0];
  CHECK(w.weight == "W");
  CHECK(w.body == "rnn/body");
  CHECK(w.op == "MatMul");
  CHECK(w.input == "x_t");
  CHECK(w.channels == kHidden);
  CHECK(w.reduction == kInputs);
  CHECK(w.blocker.empty());
  CHECK(u.weight == "U");
  CHECK(u.input == "h_in");
  auto all = pa::build_layer_model_with_bodies(m.graph);
  REQUIRE(all.ok());
  CHECK(all->layers.size() == 3);
  CHECK(pa::find_layer_weight(m.graph, "W") == m.graph.find_initializer("W"));

  // Kept inside the body (an exporter's Constant turned initializer): still a layer, found there.
  ir::Graph& scan_body = *m.graph.nodes[0].attributes.back().g;
  scan_body.set_initializer("W", *m.graph.find_initializer("W"));
  m.graph.remove_initializer("W");
  body = pa::build_body_layers(m.graph);
  REQUIRE(body.ok());
  CHECK(body->size() == 2);
  CHECK(pa::find_layer_weight(m.graph, "W") == scan_body.find_initializer("W"));

  // Read by the main graph too: the main graph's layer (blocked there), not a body layer.
  ir::Model shared = rnn(false);
  shared.graph.nodes.push_back(ir::make_node("MatMul", "extra", {"h0", "U"}, {"extra_out"}));
  body = pa::build_body_layers(shared.graph);
  REQUIRE(body.ok());
  REQUIRE(body->size() == 1);
  CHECK((*body)[0].weight == "W");
}

TEST_CASE("body layers: X^T X of a Scan body layer's input sums every iteration, as the unrolled network's steps") {
  const std::string data = temp_path("stats.npz");
  REQUIRE(formats::write_npz(data, {{"h0", lsm::normal({6, kHidden}, 3, 0.5f)}, {"x", lsm::normal({6, kSteps, kInputs}, 4, 1.0f)}}).ok());
  ir::Model scan = rnn(false), unrolled = rnn(true);
  auto scan_set = open_set(scan, data, 2);
  auto unrolled_set = open_set(unrolled, data, 2);
  REQUIRE(scan_set.ok());
  REQUIRE(unrolled_set.ok());
  auto a = pa::LayerInputAnalysis::compute(scan, *scan_set, {}, nullptr);
  auto b = pa::LayerInputAnalysis::compute(unrolled, *unrolled_set, {}, nullptr);
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  REQUIRE_MESSAGE(b.ok(), b.status().message());
  REQUIRE(a->stats.count("x_t"));
  REQUIRE(a->stats.count("h_in"));
  std::vector<std::string> xs, hs = {"h0"};
  for (int64_t k = 0; k < kSteps; ++k) xs.push_back("u" + std::to_string(k) + "_x");
  for (int64_t k = 0; k + 1 < kSteps; ++k) hs.push_back("u" + std::to_string(k) + "_h");
  for (const auto& [body_input, steps] : {std::pair{std::string("x_t"), xs}, std::pair{std::string("h_in"), hs}}) {
    INFO(body_input);
    int64_t rows = 0;
    const std::vector<float> expected = merged_hessian(b->stats, steps, &rows);
    const pa::LayerInputStats& got = a->stats.at(body_input);
    CHECK(got.rows == 6 * kSteps);
    CHECK(rows == got.rows);
    const std::vector<float> h = got.xtx->hessian();
    REQUIRE(h.size() == expected.size());
    for (size_t i = 0; i < h.size(); ++i) CHECK(h[i] == doctest::Approx(expected[i]).epsilon(1e-5));
    // The per-channel sums too (pruning's means and AWQ's scales).
    std::vector<double> abs_sum(got.abs_sum.size(), 0.0);
    for (const auto& n : steps)
      for (size_t c = 0; c < abs_sum.size(); ++c) abs_sum[c] += b->stats.at(n).abs_sum[c];
    for (size_t c = 0; c < abs_sum.size(); ++c) CHECK(got.abs_sum[c] == doctest::Approx(abs_sum[c]).epsilon(1e-6));
  }
  std::filesystem::remove(data);
}

TEST_CASE("body layers: importance predicts INT8/INT4 losses for a Scan body's weights as for the unrolled network's") {
  const std::string data = temp_path("importance.npz");
  REQUIRE(formats::write_npz(data, {{"h0", lsm::normal({8, kHidden}, 5, 0.5f)}, {"x", lsm::normal({8, kSteps, kInputs}, 6, 1.0f)}}).ok());
  for (bool reverse : {false, true}) {
    INFO("reverse: ", reverse);
    std::vector<pa::ImportanceReport> reports;
    for (bool unrolled : {false, true}) {
      const ir::Model m = rnn(unrolled, reverse);
      auto set = open_set(m, data, pa::importance_batch_rows(m.graph, 4));
      REQUIRE(set.ok());
      pa::ImportanceOptions options;
      options.loss = pa::ImportanceLoss::kMse;
      options.bf16_products = false;
      auto r = pa::compute_importance(m, *set, options);
      REQUIRE_MESSAGE(r.ok(), r.status().message());
      reports.push_back(std::move(*r));
    }
    for (const char* name : {"W", "U"}) {
      INFO(name);
      const pa::TensorImportance *a = find(reports[0], name), *b = find(reports[1], name);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(a->op == "MatMul");
      REQUIRE(a->candidates.size() == 3);  // INT8 per channel, INT4 blocks 32 and 128
      REQUIRE(b->candidates.size() == 3);
      for (size_t c = 0; c < 3; ++c) {
        CHECK(a->candidates[c].noise > 0);
        CHECK(a->candidates[c].precision == b->candidates[c].precision);
        CHECK(a->candidates[c].predicted_loss_increase == doctest::Approx(b->candidates[c].predicted_loss_increase).epsilon(1e-4));
      }
    }
  }
  std::filesystem::remove(data);
}

}  // namespace ember::body_layers_test

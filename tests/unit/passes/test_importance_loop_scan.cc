// Importance of weights read only inside a Scan or Loop body (issue 17): an RNN written as a
// Scan scores its weights as the same network unrolled into plain nodes does, and a Loop's
// outer weights are scored, with no cut and no unscored weight.
#include <doctest/doctest.h>

#include <filesystem>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "passes/analysis/importance.h"
#include "tests/fixtures/loop_scan_models.h"

namespace ember::importance_loop_scan_test {
namespace {

namespace pa = passes::analysis;
namespace lsm = loop_scan_models;

Result<pa::ImportanceReport> score(const ir::Model& m, const std::string& path) {
  calibration::CalibrationOptions co;
  co.batch = pa::importance_batch_rows(m.graph, 4);
  EMBER_ASSIGN_OR_RETURN(auto set, calibration::CalibrationSet::open(path, m.graph.feed_inputs(), co));
  pa::ImportanceOptions options;
  options.loss = pa::ImportanceLoss::kMse;
  options.bf16_products = false;  // the two graphs sum their products in different orders
  return pa::compute_importance(m, set, options);
}

const pa::TensorImportance* find(const pa::ImportanceReport& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ember_importance_loop_scan_" + name)).string();
}

}  // namespace

TEST_CASE("importance: the weights of an RNN written as a Scan score as in the same network unrolled") {
  const std::string data = temp_path("rnn.npz");
  REQUIRE(formats::write_npz(data, {{"h0", lsm::normal({8, 4}, 3, 0.5f)}, {"x", lsm::normal({8, 5, 3}, 4, 1.0f)}}).ok());
  for (bool reverse : {false, true}) {
    INFO("reverse: ", reverse);
    ir::Model scan = lsm::rnn_scan_model(1, reverse), unrolled = lsm::rnn_unrolled_model(1, reverse, 5);
    std::vector<pa::ImportanceReport> reports;
    for (ir::Model* m : {&scan, &unrolled}) {
      lsm::set_rnn_weights(*m, 3, 4, 2, 7);
      m->graph.outputs.erase(m->graph.outputs.begin());  // the logits alone
      auto r = score(*m, data);
      REQUIRE_MESSAGE(r.ok(), r.status().message());
      CHECK(r->gradient_cuts.empty());
      CHECK(r->unscored_weights.empty());
      reports.push_back(std::move(*r));
    }
    for (const char* name : {"W", "U", "b", "V"}) {
      INFO(name);
      const pa::TensorImportance *a = find(reports[0], name), *b = find(reports[1], name);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(a->taylor > 0);
      CHECK(a->taylor == doctest::Approx(b->taylor).epsilon(1e-4));
      CHECK(a->fisher_sum == doctest::Approx(b->fisher_sum).epsilon(1e-4));
    }
  }
  std::filesystem::remove(data);
}

TEST_CASE("importance: the outer weights a Loop body reads are scored") {
  ir::Model m = lsm::loop_model();
  m.graph.inputs.erase(m.graph.inputs.begin());  // c0: a constant true
  Tensor yes = Tensor::zeros(DType::kBool, {});
  yes.mutable_data<uint8_t>()[0] = 1;
  m.graph.set_initializer("c0", yes);
  m.graph.set_initializer("M", Tensor::scalar<int64_t>(6));
  m.graph.set_initializer("limit", Tensor::scalar<int64_t>(3));  // ends after 4 iterations
  m.graph.set_initializer("W", lsm::normal({3, 3}, 1, 0.5f));
  m.graph.set_initializer("V", lsm::normal({3, 2}, 2, 1.0f));
  m.graph.outputs.erase(m.graph.outputs.begin());  // ys alone
  const std::string data = temp_path("loop.npz");
  REQUIRE(formats::write_npz(data, {{"h0", lsm::normal({1, 3}, 3, 0.5f)}, {"x", lsm::normal({1, 3}, 4, 0.5f)}}).ok());
  auto r = score(m, data);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->gradient_cuts.empty());
  CHECK(r->unscored_weights.empty());
  for (const char* name : {"W", "V"}) {
    INFO(name);
    REQUIRE(find(*r, name));
    CHECK(find(*r, name)->fisher_sum > 0);
  }
  std::filesystem::remove(data);
}

}  // namespace ember::importance_loop_scan_test

// Importance of weights read only inside a Scan or Loop body (issue 17): an RNN written as a
// Scan scores its weights as the same network unrolled into plain nodes does, and a Loop's
// outer weights are scored, with no cut and no unscored weight.
#include <doctest/doctest.h>

#include <filesystem>

#include "formats/npz.h"
#include "tests/unit/passes/importance_test_util.h"
#include "tests/fixtures/loop_scan_models.h"

namespace ember::importance_loop_scan_test {
namespace {

namespace pa = passes::analysis;
using importance_test::check_same_scores;
using importance_test::find_tensor;
using importance_test::score_mse;
namespace lsm = loop_scan_models;

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
      auto r = score_mse(*m, data);
      REQUIRE_MESSAGE(r.ok(), r.status().message());
      CHECK(r->gradient_cuts.empty());
      CHECK(r->unscored_weights.empty());
      reports.push_back(std::move(*r));
    }
    check_same_scores(reports[0], reports[1], {"W", "U", "b", "V"}, 1e-4);
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
  auto r = score_mse(m, data);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->gradient_cuts.empty());
  CHECK(r->unscored_weights.empty());
  for (const char* name : {"W", "V"}) {
    INFO(name);
    REQUIRE(find_tensor(*r, name));
    CHECK(find_tensor(*r, name)->fisher_sum > 0);
  }
  std::filesystem::remove(data);
}

}  // namespace ember::importance_loop_scan_test

// Importance of weights whose gradient path goes through sequences and optionals (issue 17):
// SequenceConstruct -> SequenceMap -> ConcatFromSequence, SplitToSequence -> SequenceAt and Optional ->
// OptionalGetElement score their weights exactly as Concat and Split do in the same network
// (tests/fixtures/sequence_models.h), with no cut and no unscored weight.
#include <doctest/doctest.h>

#include <filesystem>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "passes/analysis/importance.h"
#include "tests/fixtures/sequence_models.h"

namespace ember::importance_sequence_test {
namespace {

namespace pa = passes::analysis;

Result<pa::ImportanceReport> score(const ir::Model& m, const std::string& path) {
  calibration::CalibrationOptions co;
  co.batch = pa::importance_batch_rows(m.graph, 4);
  EMBER_ASSIGN_OR_RETURN(auto set, calibration::CalibrationSet::open(path, m.graph.feed_inputs(), co));
  pa::ImportanceOptions options;
  options.loss = pa::ImportanceLoss::kMse;
  options.bf16_products = false;
  return pa::compute_importance(m, set, options);
}

const pa::TensorImportance* find(const pa::ImportanceReport& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("importance: weights reached through sequences and optionals score as through Concat and Split") {
  const std::string data = (std::filesystem::temp_directory_path() / "ember_importance_sequence.npz").string();
  REQUIRE(formats::write_npz(data, {{"x", loop_scan_models::normal({12, sequence_models::kInputs}, 5, 1.0f)}}).ok());
  std::vector<pa::ImportanceReport> reports;
  for (bool sequences : {true, false}) {
    INFO("sequences: ", sequences);
    auto r = score(sequence_models::sequence_model(sequences), data);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->gradient_cuts.empty());
    CHECK(r->unscored_weights.empty());
    reports.push_back(std::move(*r));
  }
  for (const char* name : {"W1", "W2", "Va", "Vb"}) {
    INFO(name);
    const pa::TensorImportance *seq = find(reports[0], name), *plain = find(reports[1], name);
    REQUIRE(seq);
    REQUIRE(plain);
    CHECK(seq->taylor > 0);
    CHECK(seq->taylor == doctest::Approx(plain->taylor).epsilon(1e-6));
    CHECK(seq->fisher_sum == doctest::Approx(plain->fisher_sum).epsilon(1e-6));
  }
  std::filesystem::remove(data);
}

}  // namespace ember::importance_sequence_test

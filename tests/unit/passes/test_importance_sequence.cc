// Importance of weights whose gradient path goes through sequences and optionals (issue 17):
// SequenceConstruct -> SequenceMap -> ConcatFromSequence, SplitToSequence -> SequenceAt and Optional ->
// OptionalGetElement score their weights exactly as Concat and Split do in the same network
// (tests/fixtures/sequence_models.h), with no cut and no unscored weight.
#include <doctest/doctest.h>

#include <filesystem>

#include "formats/npz.h"
#include "tests/unit/passes/importance_test_util.h"
#include "tests/fixtures/sequence_models.h"

namespace ember::importance_sequence_test {
namespace {

namespace pa = passes::analysis;
using importance_test::check_same_scores;
using importance_test::find_tensor;
using importance_test::score_mse;

}  // namespace

TEST_CASE("importance: weights reached through sequences and optionals score as through Concat and Split") {
  const std::string data = (std::filesystem::temp_directory_path() / "ember_importance_sequence.npz").string();
  REQUIRE(formats::write_npz(data, {{"x", loop_scan_models::normal({12, sequence_models::kInputs}, 5, 1.0f)}}).ok());
  std::vector<pa::ImportanceReport> reports;
  for (bool sequences : {true, false}) {
    INFO("sequences: ", sequences);
    auto r = score_mse(sequence_models::sequence_model(sequences), data);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->gradient_cuts.empty());
    CHECK(r->unscored_weights.empty());
    reports.push_back(std::move(*r));
  }
  check_same_scores(reports[0], reports[1], {"W1", "W2", "Va", "Vb"}, 1e-6);
  std::filesystem::remove(data);
}

}  // namespace ember::importance_sequence_test

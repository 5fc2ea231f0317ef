// The rows the search's gradient importance scores (holdout.h importance_rows): the first N of
// the calibration rows, after the label-free hold-back, so a held-back row is never scored.
#include <doctest/doctest.h>

#include "calibration/dataset.h"
#include "formats/npz.h"
#include "passes/search/holdout.h"
#include "tests/unit/calibration/calib_test_util.h"

namespace ember::calib_test {

TEST_CASE("search: importance scores the first rows of those not held back") {
  ScratchDir dir("importance_rows");
  std::vector<float> x(10);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  REQUIRE(formats::write_npz(dir.file("a.npz"), {{"x", Tensor::from_vector<float>({10, 1}, x)}}).ok());
  ir::ValueInfo in = tensor_info("x", DType::kF32, {-1, 1});
  calibration::CalibrationOptions co;
  co.batch = 2;
  auto set = calibration::CalibrationSet::open(dir.file(""), {&in}, co);
  REQUIRE_MESSAGE(set.ok(), set.status().message());
  auto split = set->split_last(4);  // rows 6..9 held back for a label-free budget
  REQUIRE(split.ok());
  const calibration::CalibrationSet& calib = split->first;

  auto first = passes::importance_rows(calib, 3);
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->num_rows() == 3);
  CHECK(test::floats_of((*first)->batch(0).at("x")) == std::vector<float>{0, 1});
  CHECK(test::floats_of((*first)->batch(1).at("x")) == std::vector<float>{2});
  // As many rows as calibrate, more, or 0: every calibration row (none of the held-back ones).
  for (int64_t rows : {int64_t(0), int64_t(6), int64_t(128)}) {
    auto all = passes::importance_rows(calib, rows);
    REQUIRE(all.ok());
    CHECK(!all->has_value());
  }
}

}  // namespace ember::calib_test

// The tiny Llama's calibration set (tests/fixtures/tiny_llama.h): 32 rows of 8 token ids written
// to `ids_path`, read in batches of 8; what the pruning tests on that model calibrate with.
#pragma once
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "calibration/dataset.h"
#include "formats/npy.h"
#include "tests/fixtures/tiny_llama.h"

namespace ember::test {

inline calibration::CalibrationSet tiny_llama_calibration(const std::string& ids_path, const ir::Model& model) {
  REQUIRE(formats::write_npy(ids_path, test_fixtures::tiny_llama_ids(test_fixtures::tiny_llama_config(), 32, 8, 1)).ok());
  calibration::CalibrationOptions o;
  o.batch = 8;
  auto set = calibration::CalibrationSet::open(ids_path, model.graph.feed_inputs(), o);
  REQUIRE(set.ok());
  return std::move(*set);
}

}  // namespace ember::test

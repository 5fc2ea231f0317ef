// The bundled tiny GPT-2 (samples/kjv-gpt2-tiny.onnx) with 4 rows of its calibration set: what
// the compress and search tests start from.
#pragma once
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"

namespace ember::test {

struct TinyGpt2Run {
  ir::Model fp32;
  calibration::CalibrationSet calib;
};

inline TinyGpt2Run open_tiny_gpt2() {
  const std::string samples = std::string(EMBER_SOURCE_DIR) + "/samples";
  auto model = formats::load_onnx(samples + "/kjv-gpt2-tiny.onnx");
  REQUIRE(model.ok());
  calibration::CalibrationOptions co;
  co.limit = 4;
  auto calib = calibration::CalibrationSet::open(samples + "/kjv-lm-calib.npy", model->graph.feed_inputs(), co);
  REQUIRE(calib.ok());
  return {std::move(*model), std::move(*calib)};
}

}  // namespace ember::test

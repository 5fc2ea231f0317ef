// The bundled tiny GPT-2 (samples/kjv-gpt2-tiny.onnx) with 4 rows of its calibration set: what
// the compress and search tests start from.
#pragma once
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "calibration/dataset.h"
#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "passes/pass_manager.h"

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

// The serialized model `ember opt --calib SET --passes PIPELINE` makes of `run.fp32`: what a
// search's manifest pipeline must replay byte for byte.
inline std::string replayed_bytes(const std::string& pipeline, const TinyGpt2Run& run) {
  auto manager = passes::PassManager::from_text(pipeline);
  REQUIRE_MESSAGE(manager.ok(), pipeline);
  ir::Model replayed = run.fp32;
  passes::AnalysisManager analyses(&run.calib);
  passes::Remarks remarks;
  passes::PassContext ctx(analyses, remarks);
  const Status status = manager->run(replayed, ctx);
  REQUIRE_MESSAGE(status.ok(), status.message());
  auto bytes = formats::serialize_onnx(replayed);
  REQUIRE(bytes.ok());
  return *bytes;
}

}  // namespace ember::test

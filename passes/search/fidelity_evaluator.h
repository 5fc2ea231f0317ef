// The label-free QualityEvaluator: fidelity to the FP32 model's outputs on held-back
// calibration rows (the metrics are calibration/fidelity.h's: kl, top1, sqnr, cosine,
// expected-accuracy).
#pragma once
#include <memory>
#include <string>

#include "passes/search/evaluator.h"

namespace ember::passes {

// `metric` is a fidelity metric or "auto" (kl for logits, else sqnr: auto_fidelity_metric).
// Captures the FP32 outputs on `held_back` once; invalid_input when the metric does not fit them.
Result<std::unique_ptr<QualityEvaluator>> make_fidelity_evaluator(const ir::Model& fp32, const calibration::CalibrationSet& held_back,
                                                                  const std::string& metric, int threads);

}  // namespace ember::passes

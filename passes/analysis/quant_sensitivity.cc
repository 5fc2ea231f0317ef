#include "passes/analysis/quant_sensitivity.h"

namespace ember::passes::analysis {

// The row kernel (importance_rows.h) holds these three in this order: INT8 per channel, then
// INT4 blocks of 32 and 128.
const std::vector<CandidateSpec>& default_candidates() {
  static const std::vector<CandidateSpec> specs = {{8, 0}, {4, 32}, {4, 128}};
  return specs;
}

std::vector<float> to_canonical(const LayerWeight& layer, const float* stored) {
  std::vector<float> out(static_cast<size_t>(layer.rows * layer.cols));
  for (int64_t r = 0; r < layer.rows; ++r)
    for (int64_t c = 0; c < layer.cols; ++c) out[static_cast<size_t>(r * layer.cols + c)] = stored[layer.index(r, c)];
  return out;
}

}  // namespace ember::passes::analysis

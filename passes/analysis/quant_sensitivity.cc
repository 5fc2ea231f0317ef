#include "passes/analysis/quant_sensitivity.h"

namespace ember::passes::analysis {

// The row kernel (importance_rows.h) holds these three in this order: INT8 per channel, then
// INT4 blocks of 32 and 128.
const std::vector<CandidateSpec>& default_candidates() {
  static const std::vector<CandidateSpec> specs = {{8, 0}, {4, 32}, {4, 128}};
  return specs;
}

}  // namespace ember::passes::analysis

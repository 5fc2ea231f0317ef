// The candidate precisions the importance analysis scores: dw = Q(w) - w with Q symmetric
// round-to-nearest (passes/quantize/quant_math.h, the quantizer the quantize passes use):
// INT8 with one scale per output channel, INT4 with one scale per block of 32 or 128
// consecutive weights along the reduction axis. The analysis
// turns dw into noise = sum F dw^2 and the predicted loss increase g_mean . dw + noise / 2.
#pragma once
#include <cstdint>
#include <vector>

#include "passes/analysis/layer_model.h"

namespace ember::passes::analysis {

struct CandidateSpec {
  int bits;
  int64_t block;  // 0: per output channel
};
// INT8 per channel, INT4 block 32, INT4 block 128.
const std::vector<CandidateSpec>& default_candidates();

}  // namespace ember::passes::analysis

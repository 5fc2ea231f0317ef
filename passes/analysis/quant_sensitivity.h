// Fisher-weighted quantization noise of one layer for the candidate precisions:
//   noise = sum_i F_i (Q(w)_i - w_i)^2,   predicted loss increase = noise / 2,
// with Q symmetric round-to-nearest (passes/quantize/quant_math.h, the quantizer the
// quantize passes use): INT8 with one scale per output channel, INT4 with one scale per
// block of 32 or 128 consecutive weights along the reduction axis.
#pragma once
#include <cstdint>
#include <vector>

#include "passes/analysis/importance.h"
#include "passes/analysis/layer_structure.h"

namespace ember::passes::analysis {

struct CandidateSpec {
  int bits;
  int64_t block;  // 0: per output channel
};
const std::vector<CandidateSpec>& default_candidates();

// `w` and `fisher` are in the stored layout of layer.weight.
std::vector<PrecisionCandidate> quantization_candidates(const LayerWeight& layer, const float* w, const float* fisher,
                                                        const std::vector<CandidateSpec>& specs = default_candidates());

// The layer's weights in canonical [rows = output channels, cols = reduction] order.
std::vector<float> to_canonical(const LayerWeight& layer, const float* stored);

}  // namespace ember::passes::analysis

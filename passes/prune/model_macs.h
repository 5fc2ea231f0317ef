// Multiply-adds of one inference of a whole model, counted on a run: for every Conv,
// ConvTranspose, Gemm and MatMul (weights or activations on both sides), the output's
// elements times the reduction length (Conv: input channels / group * kernel elements). Used to
// state the cut in arithmetic that pruning made, next to the speed measured.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "ir/model.h"
#include "ir/status.h"

namespace ember::passes::prune {

// MACs per row of `feeds` (the first feed's leading dimension) of one run of `model`.
Result<int64_t> model_macs(const ir::Model& model, const std::map<std::string, Tensor>& feeds);

}  // namespace ember::passes::prune

// Which layer weights (analysis/layer_model.h) weight quantization covers: every layer whose
// readers it can all rewrite (no blocker), of a covered op type, not excluded by name, and
// with at least min-size elements. Quantization works on the layer's canonical
// [channels, reduction] matrix and emission maps it back to the stored layout.
#pragma once
#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"
#include "passes/analysis/layer_model.h"

namespace ember::passes::quant {

using analysis::Layer;
using analysis::UseKind;
using analysis::WeightUse;

struct TargetFilter {
  std::set<std::string> ops = {"MatMul", "Gemm", "Conv", "Gather"};
  std::optional<std::regex> exclude;  // searched in weight and reader node names
  std::optional<std::regex> include;  // when set, only weights it matches (weight or reader node name)
  int64_t min_size = 0;               // fewer elements: left in float
};

struct SkippedWeight {
  std::string name;    // the weight
  std::string reason;  // why it stays float
};

struct TargetScan {
  std::vector<Layer> targets;
  std::vector<SkippedWeight> skipped;  // weights with a coverable use that stay float
};

TargetScan find_weight_targets(const ir::Graph& graph, const TargetFilter& filter);

}  // namespace ember::passes::quant

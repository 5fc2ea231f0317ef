// prune-structured{params=R,probe=split}: how a parameter budget is split between FFN neurons
// and attention heads, measured. Within each kind the units are taken in the order of their
// global ranking (lowest raw score first over all layers of the kind, each layer keeping its
// floor of max(1, ceil(min_keep * N)) units); only the exchange rate between the kinds is
// searched. For k heads on a grid from 0 to the most the budget allows (step: one unit, or
// more so that at most 17 points are measured), the heads' parameters are taken first and
// neurons fill the rest of the budget; each split is measured by a probe (probe_calibration.h:
// the units masked, KL of the output against the unpruned model's on the first calibration
// batches), and the split with the smallest KL wins (ties: fewer heads) among those that meet
// the budget (with per-layer floors a split with few heads may not: its neurons run out). The probes measure
// pruning without recovery; on kjv-gpt2 that orders the splits as the recovered models do.
#pragma once
#include <cstdint>
#include <vector>

#include "passes/prune/probe_calibration.h"

namespace ember::passes::prune {

struct SplitLayer {
  ProbeLayer probe;        // consumer, channels per unit, raw scores
  int64_t unit_params = 0;
  bool head = false;       // the second kind
};

struct SplitChoice {
  std::vector<int64_t> counts;       // units removed per layer (its lowest scores)
  std::vector<double> tried_kl;      // per grid point
  std::vector<int64_t> tried_heads;  // heads removed at each grid point
};

Result<SplitChoice> search_split(const ProbeMeter& meter, const std::vector<SplitLayer>& layers, double fraction,
                                 double min_keep);

}  // namespace ember::passes::prune

// The back-off of a broken last stage that prunes: pruning group by group, the precisions kept.
// Before: the last stage's state A (every layer its chosen action: pruned groups at their ratios,
//         INT4 blocks up to 128) measured over the budget; the state before it fits.
// After:  the layer-by-layer bisection (progressive.cc) returns whole layers to the previous
//         stage's action, which drops a group's pruning and its block size at once (on kjv-bert
//         the bisected models kept INT4 b32 and were larger than INT4 b128 without pruning). And
//         one group's predicted pruning loss can be far off (a head's Fisher removal score
//         against the KL of held-back rows: 300x on kjv-bert), so an order by prediction alone
//         backs off too much. Here:
//   1. U = A without any pruning (each pruned action keeps its precision) is measured; when it
//      breaks the budget there is nothing to gain from pruning: the caller bisects as before.
//   2. Steps (group g at ratio r) are ordered by predicted pruning loss per byte saved,
//        (sum_{i in g} L_i(r) - L_i(0)) / (sum_{i in g} B_i(0) - B_i(r)),  ascending,
//      and added to U greedily with bisection: the longest prefix of the steps that fits (log2 of
//      the steps measured, assuming the measured damage grows along the prefix) is kept; the step
//      after it broke the budget, so it is skipped and its group goes to the end of the list at
//      its next lower allowed ratio (intermediate ratios instead of none); the rest is tried again
//      from the new state. It stops when every step is placed or after `max_candidates` measured
//      states; the state kept always fits.
//   3. A skipped step's measured damage calibrates the rest (when the measured damages are
//      given): Delta_b = d(S + b) - d(S) against its predicted P_b gives c_k = Delta_b / P_b for
//      its kind k (attention heads or FFN neurons: one prediction error per kind, the largest
//      seen). Before each later round a step of a calibrated kind whose estimate c_k P_j exceeds
//      the slack left (room - d(S)) steps down to its lower ratios until it fits, or is dropped,
//      unmeasured (on kjv-bert one head's Fisher score under-predicts the KL of the held-back
//      rows 7-50x, so every head is measured to break, one round each, without this).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/search/actions.h"
#include "passes/search/compress.h"
#include "passes/search/progressive.h"

namespace ember::passes::search {

// One step: every layer of a prune group (layer_items.h prune_members) at `ratio`, its precision kept.
struct PruneStep {
  std::vector<size_t> layers;
  double ratio = 0;
};

// The prune groups that `state` prunes, each at its ratio, ordered by predicted loss per byte saved
// against `unpruned` (best first; ties in layer order).
std::vector<PruneStep> prune_steps(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& state,
                                   const std::function<double(size_t, const LayerAction&)>& predicted);

// The next ratio below `step.ratio` that every layer of the step allows with its precision in
// `state` (0 when none: the group is left unpruned).
double lower_ratio(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& state, const PruneStep& step);

// The predicted pruning loss a step adds to `state` (its precisions kept).
double step_loss(const std::vector<LayerAction>& state, const PruneStep& step,
                 const std::function<double(size_t, const LayerAction&)>& predicted);

// The back-off above. `broken` is A (measured over the budget). None when A prunes nothing or U
// breaks the budget. `record.candidates` counts the states measured.
Result<std::optional<std::vector<LayerAction>>> prune_back_off(const std::vector<SearchLayer>& layers,
                                                               const std::vector<LayerAction>& broken,
                                                               const std::function<double(size_t, const LayerAction&)>& predicted,
                                                               const TryCandidate& try_candidate,
                                                               const std::function<void(const std::string&)>& on_stage,
                                                               SearchStageRecord& record, int max_candidates = 8,
                                                               const MeasuredDamage& measured = {});  // progressive.h

}  // namespace ember::passes::search

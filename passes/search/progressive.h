// Progressive verification of an allocation, in the order the design gives:
//   stage "ffn":        FFN (and other) layers take their chosen action, capped at INT4 b32
//   stage "attention":  the attention projections too
//   stage "aggressive": every layer its chosen action (INT4 blocks 64/128, embeddings, the head,
//                       and FFN pruning: earlier stages apply a pruned action's precision only)
// The real metric is measured after each stage. When a stage breaks the budget (and backing
// off is allowed), the layers it changed are sorted by predicted damage, and a bisection on k
// finds the fewest of the most damaging ones to return to their previous action so that the
// stage fits (assuming quality is monotone in k: log2(n) measured candidates). Those layers
// keep their previous action in later stages; the search then goes on. When the last stage
// breaks the budget, a repair (RepairStage) is tried before the bisection, and then, when it
// prunes, the pruning back-off (prune_backoff.h: group by group, the precisions kept); the layer
// bisection runs when neither fits. A layer of a pruned FFN goes back together with its partner
// (both layers always share the prune ratio).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/search/action_cost.h"
#include "passes/search/actions.h"
#include "passes/search/compress.h"

namespace ember::passes::search {

// Builds and measures a candidate; true when it is within the budget.
using TryCandidate = std::function<Result<bool>(const std::string& name, const std::vector<LayerAction>& actions)>;

// Called when the last stage breaks the budget (back-off allowed), before any bisection: a whole
// state to try instead (the controller's allocation on predictions the measured stages
// corrected), kept when it fits; none, or one that does not fit, leaves it to the bisection.
using RepairStage = std::function<Result<std::optional<std::vector<LayerAction>>>()>;

// What a back-off can learn from the measurements (prune_backoff.h): the measured damage (the
// metric's distance from the reference, >= 0 worse) of a state already measured, none otherwise,
// and the damage the budget allows. Without `of` nothing is skipped unmeasured.
struct MeasuredDamage {
  std::function<std::optional<double>(const std::vector<LayerAction>&)> of;
  double room = 0;
};

struct ProgressiveOutcome {
  std::vector<LayerAction> actions;  // the last state within budget (or the final allocation)
  bool within_budget = false;
  std::vector<SearchStageRecord> stages;
  std::vector<std::vector<LayerAction>> accepted;  // the state kept after each stage, in order (each one a measured candidate)
};

// `chosen` holds each layer's final action; `predicted(i, action)` its predicted loss.
// `back_off` false: stages are only measured (a hard target forbids adding bytes back).
Result<ProgressiveOutcome> run_progressive(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& chosen,
                                           const std::function<double(size_t, const LayerAction&)>& predicted,
                                           bool back_off, const TryCandidate& try_candidate,
                                           const std::function<void(const std::string&)>& on_stage, const RepairStage& repair = {},
                                           const MeasuredDamage& measured = {});

}  // namespace ember::passes::search

#include "passes/search/progressive.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "passes/search/layer_items.h"
#include "passes/search/prune_backoff.h"

namespace ember::passes::search {
namespace {

struct StageDef {
  const char* name;
  int level;  // 1: ffn/other capped, 2: + attention capped, 3: everything as chosen
};

LayerAction capped(const LayerAction& a) {
  LayerAction out = without_pruning(a);  // pruning waits for the last stage
  if (out.kind == LayerAction::Kind::kInt4 && out.block > 32) out.block = 32;
  return out;
}

LayerAction stage_action(const SearchLayer& layer, const LayerAction& chosen, int level) {
  if (level >= 3) return chosen;
  const bool in_stage = layer.stage == Stage::kFfn || layer.stage == Stage::kOther ||
                        (level >= 2 && layer.stage == Stage::kAttention);
  return in_stage ? capped(chosen) : LayerAction{};
}

// Reverts the first k of `order` (layer indices) from `next` back to `current`, and the other
// layers of each one's prune group (its partners in turn, layer_items.h: an FFN's two layers,
// an attention block's projections) when their prune ratios would no longer match.
std::vector<LayerAction> revert(std::vector<LayerAction> next, const std::vector<LayerAction>& current,
                                const std::vector<size_t>& order, size_t k, const std::vector<std::optional<size_t>>& partner) {
  for (size_t j = 0; j < k; ++j) {
    const size_t i = order[j];
    next[i] = current[i];
    for (std::optional<size_t> p = partner[i]; p && *p != i; p = partner[*p])
      if (prune_ratio(next[*p]) != prune_ratio(next[i])) next[*p] = current[*p];
  }
  return next;
}

// The bisection of a broken stage: the most damaging of `changed` first, the fewest of them
// returned to `current` so that the stage fits (reverting all is the previous state). Marks the
// reverted layers (and their FFN partners) locked; returns the new state.
Result<std::vector<LayerAction>> bisect_back_off(const char* stage, const std::vector<LayerAction>& current,
                                                 const std::vector<LayerAction>& next, std::vector<size_t> changed,
                                                 const std::function<double(size_t, const LayerAction&)>& predicted,
                                                 const std::vector<std::optional<size_t>>& partner, const TryCandidate& try_candidate,
                                                 const std::function<void(const std::string&)>& on_stage, std::vector<bool>& locked,
                                                 SearchStageRecord& record) {
  std::sort(changed.begin(), changed.end(), [&](size_t a, size_t b) {
    const double da = predicted(a, next[a]) - predicted(a, current[a]);
    const double db = predicted(b, next[b]) - predicted(b, current[b]);
    return da != db ? da > db : a < b;
  });
  size_t lo = 1, hi = changed.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (on_stage) on_stage(std::string("stage ") + stage + ": backing off " + std::to_string(mid) + " of " +
                           std::to_string(changed.size()) + " layers");
    EMBER_ASSIGN_OR_RETURN(const bool ok, try_candidate(std::string(stage) + "-backoff-" + std::to_string(mid),
                                                        revert(next, current, changed, mid, partner)));
    ++record.candidates;
    if (ok) hi = mid;
    else lo = mid + 1;
  }
  const std::vector<LayerAction> reverted = revert(next, current, changed, lo, partner);
  for (size_t i = 0; i < locked.size(); ++i) locked[i] = locked[i] || (!(next[i] == current[i]) && reverted[i] == current[i]);
  return reverted;
}

}  // namespace

Result<ProgressiveOutcome> run_progressive(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& chosen,
                                           const std::function<double(size_t, const LayerAction&)>& predicted,
                                           bool back_off, const TryCandidate& try_candidate,
                                           const std::function<void(const std::string&)>& on_stage, const RepairStage& repair,
                                           const MeasuredDamage& measured) {
  static const StageDef kStages[] = {{"ffn", 1}, {"attention", 2}, {"aggressive", 3}};
  ProgressiveOutcome out;
  std::vector<LayerAction> current(layers.size());  // all FP32: within budget by definition
  std::vector<bool> locked(layers.size(), false);
  std::vector<std::optional<size_t>> partner(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) partner[i] = prune_partner(layers, i);
  out.within_budget = true;
  for (const StageDef& stage : kStages) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<LayerAction> next = current;
    std::vector<size_t> changed;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (locked[i]) continue;
      next[i] = stage_action(layers[i], chosen[i], stage.level);
      if (!(next[i] == current[i])) changed.push_back(i);
    }
    if (changed.empty()) continue;
    SearchStageRecord record{stage.name, 0, 0};
    if (on_stage) on_stage(std::string("stage ") + stage.name + ": " + std::to_string(changed.size()) + " layers change");
    EMBER_ASSIGN_OR_RETURN(const bool fits, try_candidate(stage.name, next));
    ++record.candidates;
    std::optional<std::vector<LayerAction>> repaired;
    if (!fits && back_off && stage.level == 3 && repair) {
      EMBER_ASSIGN_OR_RETURN(repaired, repair());
      if (repaired && !(*repaired == next)) {
        if (on_stage) on_stage(std::string("stage ") + stage.name + ": trying the allocation refitted to the measured stages");
        EMBER_ASSIGN_OR_RETURN(const bool ok, try_candidate(std::string(stage.name) + "-refit", *repaired));
        ++record.candidates;
        if (!ok) repaired.reset();
      } else {
        repaired.reset();
      }
    }
    if (fits || !back_off) {
      current = next;
      out.within_budget = fits;
    } else if (repaired) {
      current = *repaired;
    } else {
      // A last stage that prunes backs off its pruning group by group first (prune_backoff.h);
      // the layer bisection is left for when its precisions alone break the budget.
      std::optional<std::vector<LayerAction>> pruned;
      if (stage.level == 3) {
        EMBER_ASSIGN_OR_RETURN(pruned, prune_back_off(layers, next, predicted, try_candidate, on_stage, record, 8, measured));
      }
      if (pruned) {
        current = *pruned;
      } else {
        EMBER_ASSIGN_OR_RETURN(current, bisect_back_off(stage.name, current, next, changed, predicted, partner, try_candidate,
                                                        on_stage, locked, record));
      }
    }
    out.accepted.push_back(current);
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.stages.push_back(record);
  }
  out.actions = current;
  return out;
}

}  // namespace ember::passes::search

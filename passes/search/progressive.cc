#include "passes/search/progressive.h"

#include <algorithm>
#include <chrono>

namespace ember::passes::search {
namespace {

struct StageDef {
  const char* name;
  int level;  // 1: ffn/other capped, 2: + attention capped, 3: everything as chosen
};

LayerAction capped(const LayerAction& a) {
  if (a.kind == LayerAction::Kind::kInt4 && a.block > 32) {
    LayerAction b32 = a;
    b32.block = 32;
    return b32;
  }
  if (a.kind == LayerAction::Kind::kPrune) return LayerAction{};
  return a;
}

LayerAction stage_action(const SearchLayer& layer, const LayerAction& chosen, int level) {
  if (level >= 3) return chosen;
  const bool in_stage = layer.stage == Stage::kFfn || layer.stage == Stage::kOther ||
                        (level >= 2 && layer.stage == Stage::kAttention);
  return in_stage ? capped(chosen) : LayerAction{};
}

// Reverts the first k of `order` (layer indices) from `next` back to `current`.
std::vector<LayerAction> revert(std::vector<LayerAction> next, const std::vector<LayerAction>& current,
                                const std::vector<size_t>& order, size_t k) {
  for (size_t j = 0; j < k; ++j) next[order[j]] = current[order[j]];
  return next;
}

}  // namespace

Result<ProgressiveOutcome> run_progressive(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& chosen,
                                           const std::function<double(size_t, const LayerAction&)>& predicted,
                                           bool back_off, const TryCandidate& try_candidate,
                                           const std::function<void(const std::string&)>& on_stage) {
  static const StageDef kStages[] = {{"ffn", 1}, {"attention", 2}, {"aggressive", 3}};
  ProgressiveOutcome out;
  std::vector<LayerAction> current(layers.size());  // all FP32: within budget by definition
  std::vector<bool> locked(layers.size(), false);
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
    if (fits || !back_off) {
      current = next;
      out.within_budget = fits;
    } else {
      // Most damaging first; bisect on how many of them go back.
      std::sort(changed.begin(), changed.end(), [&](size_t a, size_t b) {
        const double da = predicted(a, next[a]) - predicted(a, current[a]);
        const double db = predicted(b, next[b]) - predicted(b, current[b]);
        return da != db ? da > db : a < b;
      });
      size_t lo = 1, hi = changed.size();  // reverting all of them is the previous state
      while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (on_stage) on_stage(std::string("stage ") + stage.name + ": backing off " + std::to_string(mid) + " of " +
                               std::to_string(changed.size()) + " layers");
        EMBER_ASSIGN_OR_RETURN(const bool ok, try_candidate(std::string(stage.name) + "-backoff-" + std::to_string(mid),
                                                            revert(next, current, changed, mid)));
        ++record.candidates;
        if (ok) hi = mid;
        else lo = mid + 1;
      }
      for (size_t j = 0; j < lo; ++j) locked[changed[j]] = true;
      current = revert(next, current, changed, lo);
    }
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.stages.push_back(record);
  }
  out.actions = current;
  return out;
}

}  // namespace ember::passes::search

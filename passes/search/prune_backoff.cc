#include "passes/search/prune_backoff.h"

#include <algorithm>
#include <set>

#include "passes/search/layer_items.h"

namespace ember::passes::search {
namespace {

std::vector<LayerAction> apply(std::vector<LayerAction> state, const std::vector<PruneStep>& steps, size_t count) {
  for (size_t s = 0; s < count && s < steps.size(); ++s)
    for (size_t i : steps[s].layers) state[i] = at_ratio(state[i], steps[s].ratio);
  return state;
}

bool allows(const SearchLayer& layer, const LayerAction& action) {
  return std::find(layer.allowed.begin(), layer.allowed.end(), action) != layer.allowed.end();
}

// The measured over predicted damage of skipped steps, per kind (0: FFN neurons, 1: attention
// heads): the largest seen, none before the first.
using KindScales = std::optional<double>[2];

int kind_of(const std::vector<SearchLayer>& layers, const PruneStep& step) {
  return layers[step.layers.front()].prune_heads ? 1 : 0;
}

// `breaker` broke the budget on top of `state`: its measured damage over its predicted one.
// Returns the damage measured at `state` (none when it was not measured).
std::optional<double> learn(KindScales& scales, const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& state,
           const PruneStep& breaker, const std::function<double(size_t, const LayerAction&)>& predicted,
           const MeasuredDamage& measured) {
  const std::optional<double> with = measured.of(apply(state, {breaker}, 1));
  const std::optional<double> without = measured.of(state);
  const double loss = step_loss(state, breaker, predicted);
  if (!with || !without || !(loss > 0)) return without;
  std::optional<double>& scale = scales[kind_of(layers, breaker)];
  const double c = (*with - *without) / loss;
  scale = scale ? std::max(*scale, c) : c;
  return without;
}

// The steps whose calibrated estimate fits `slack`, each at the highest of its ratios that does.
std::vector<PruneStep> within_slack(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& state,
                                    std::vector<PruneStep> queue, const std::function<double(size_t, const LayerAction&)>& predicted,
                                    const KindScales& scales, double slack) {
  std::vector<PruneStep> out;
  for (PruneStep& step : queue) {
    const std::optional<double>& scale = scales[kind_of(layers, step)];
    while (scale && step.ratio > 0 && *scale * step_loss(state, step, predicted) > slack) step.ratio = lower_ratio(layers, state, step);
    if (step.ratio > 0) out.push_back(std::move(step));
  }
  return out;
}

}  // namespace

double step_loss(const std::vector<LayerAction>& state, const PruneStep& step,
                 const std::function<double(size_t, const LayerAction&)>& predicted) {
  double loss = 0;
  for (size_t i : step.layers) loss += predicted(i, at_ratio(state[i], step.ratio)) - predicted(i, state[i]);
  return loss;
}

std::vector<PruneStep> prune_steps(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& state,
                                   const std::function<double(size_t, const LayerAction&)>& predicted) {
  std::vector<std::pair<double, PruneStep>> scored;
  std::set<size_t> seen;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (seen.count(i) || !(prune_ratio(state[i]) > 0)) continue;
    PruneStep step{prune_members(layers, i), prune_ratio(state[i])};
    double loss = 0;
    int64_t saved = 0;
    for (size_t m : step.layers) {
      seen.insert(m);
      const LayerAction unpruned = without_pruning(state[m]);
      loss += predicted(m, state[m]) - predicted(m, unpruned);
      saved += action_bytes(layers[m], unpruned) - action_bytes(layers[m], state[m]);
    }
    scored.push_back({std::max(0.0, loss) / double(std::max<int64_t>(saved, 1)), std::move(step)});
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PruneStep> out;
  for (auto& s : scored) out.push_back(std::move(s.second));
  return out;
}

double lower_ratio(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& state, const PruneStep& step) {
  std::set<double> ratios;
  for (const LayerAction& a : layers[step.layers.front()].allowed)
    if (prune_ratio(a) > 0 && prune_ratio(a) < step.ratio) ratios.insert(prune_ratio(a));
  for (auto r = ratios.rbegin(); r != ratios.rend(); ++r) {
    bool all = true;
    for (size_t i : step.layers) all = all && allows(layers[i], at_ratio(state[i], *r));
    if (all) return *r;
  }
  return 0;
}

Result<std::optional<std::vector<LayerAction>>> prune_back_off(const std::vector<SearchLayer>& layers,
                                                               const std::vector<LayerAction>& broken,
                                                               const std::function<double(size_t, const LayerAction&)>& predicted,
                                                               const TryCandidate& try_candidate,
                                                               const std::function<void(const std::string&)>& on_stage,
                                                               SearchStageRecord& record, int max_candidates,
                                                               const MeasuredDamage& measured) {
  std::vector<PruneStep> queue = prune_steps(layers, broken, predicted);
  if (queue.empty()) return std::optional<std::vector<LayerAction>>();
  std::vector<LayerAction> state = broken;
  for (auto& a : state) a = without_pruning(a);
  if (on_stage) on_stage("stage aggressive: its precisions without pruning");
  EMBER_ASSIGN_OR_RETURN(const bool unpruned_fits, try_candidate("aggressive-backoff-unpruned", state));
  ++record.candidates;
  if (!unpruned_fits) return std::optional<std::vector<LayerAction>>();
  int tries = 0;
  bool all_known_to_break = true;  // the first round's whole list is `broken` itself
  KindScales scales;
  while (!queue.empty() && tries < max_candidates) {
    size_t lo = 0, hi = all_known_to_break ? queue.size() - 1 : queue.size();
    while (lo < hi && tries < max_candidates) {
      const size_t mid = (lo + hi + 1) / 2;
      if (on_stage) on_stage("stage aggressive: pruning " + std::to_string(mid) + " of " + std::to_string(queue.size()) + " groups");
      EMBER_ASSIGN_OR_RETURN(const bool ok, try_candidate("aggressive-backoff-prune-" + std::to_string(++tries), apply(state, queue, mid)));
      ++record.candidates;
      if (ok) lo = mid;
      else hi = mid - 1;
    }
    state = apply(state, queue, lo);
    if (lo < hi || lo == queue.size()) break;  // out of measurements, or every step fits
    // queue[lo] broke the budget on top of the fitting prefix: skip it, and try its group again
    // at the next lower ratio after the others.
    PruneStep breaker = queue[lo];
    const std::optional<double> now = measured.of ? learn(scales, layers, state, breaker, predicted, measured) : std::nullopt;
    queue.erase(queue.begin(), queue.begin() + std::ptrdiff_t(lo) + 1);
    breaker.ratio = lower_ratio(layers, state, breaker);
    if (breaker.ratio > 0) queue.push_back(std::move(breaker));
    all_known_to_break = false;
    if (now) queue = within_slack(layers, state, std::move(queue), predicted, scales, measured.room - *now);
  }
  return std::optional<std::vector<LayerAction>>(std::move(state));
}

}  // namespace ember::passes::search

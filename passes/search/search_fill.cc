// SearchRun::fill: the fill step of a search without a target (fill.h). From the smallest
// verified model within the budget, the cheaper precisions of each item (its prune ratios stay)
// whose predicted losses fit in the measured slack are tried as one more candidate, at most
// twice (the second attempt with half the allowance when the first broke the budget, or from
// the new model when it held).
// Every attempt is measured; choose() keeps the smallest model within the budget, so a fill
// that breaks the budget costs a candidate, never quality.
#include "passes/search/fill.h"
#include "passes/search/layer_items.h"
#include "passes/search/search_run.h"

namespace ember::passes::search {
namespace {

// The raw option of `item` that `actions` took, if any.
std::optional<size_t> option_taken(const std::vector<SearchLayer>& layers, const LayerItem& item, const std::vector<LayerAction>& actions) {
  for (size_t o = 0; o < item.options.size(); ++o) {
    bool same = true;
    for (size_t k = 0; k < item.layers.size() && same; ++k)
      same = layers[item.layers[k]].allowed[item.options[o][k]] == actions[item.layers[k]];
    if (same) return o;
  }
  return std::nullopt;
}

}  // namespace

const BuiltCandidate* SearchRun::smallest_within_budget() const {
  const BuiltCandidate* best = nullptr;
  for (const auto& b : built_)
    if (b.candidate.within_budget && b.candidate.within_target && allowed_all(b.actions) &&
        (!best || b.candidate.model_bytes < best->candidate.model_bytes))
      best = &b;
  return best;
}

Result<std::optional<std::vector<LayerAction>>> SearchRun::fill_actions(const std::vector<LayerAction>& base, double slack,
                                                                        double measured_damage, double share) const {
  const LossTable table = loss_table();
  const std::vector<LayerItem> groups = layer_items(ctx_.layers);
  const std::vector<std::vector<Option>> raw = item_options(ctx_.layers, groups, table, 0);
  // Only precision moves: each layer keeps the verified prune ratio (the bisection measured how
  // far pruning goes; one probe scales its predictions, which can be far off, as on kjv-bert).
  std::vector<std::vector<Option>> same_pruning(groups.size());
  std::vector<std::vector<size_t>> kept(groups.size());  // index into raw[t]
  for (size_t t = 0; t < groups.size(); ++t)
    for (size_t o = 0; o < groups[t].options.size(); ++o) {
      bool same = true;
      for (size_t k = 0; k < groups[t].layers.size() && same; ++k) {
        const size_t i = groups[t].layers[k];
        same = prune_ratio(ctx_.layers[i].allowed[groups[t].options[o][k]]) == prune_ratio(base[i]);
      }
      if (same) same_pruning[t].push_back(raw[t][o]), kept[t].push_back(o);
    }
  const EfficientOptions efficient = efficient_options(same_pruning);
  // The DP solves over the efficient options and the verified one of each item.
  std::vector<std::vector<Option>> items(groups.size());
  std::vector<std::vector<size_t>> source(groups.size());
  std::vector<size_t> current(groups.size());
  double predicted = 0;
  for (size_t t = 0; t < groups.size(); ++t) {
    const std::optional<size_t> taken = option_taken(ctx_.layers, groups[t], base);
    if (!taken) return std::optional<std::vector<LayerAction>>();
    predicted += raw[t][*taken].loss;
    items[t] = efficient.options[t];
    for (size_t e : efficient.source[t]) source[t].push_back(kept[t][e]);
    auto at = std::find(source[t].begin(), source[t].end(), *taken);
    if (at == source[t].end()) {
      items[t].push_back(raw[t][*taken]);
      source[t].push_back(*taken);
      at = source[t].end() - 1;
    }
    current[t] = size_t(at - source[t].begin());
  }
  const double allowance = fill_allowance(slack, measured_damage, predicted, scale_.metric_per_loss, share);
  if (!(allowance > 0)) return std::optional<std::vector<LayerAction>>();
  EMBER_ASSIGN_OR_RETURN(const Allocation picked, fill_cheaper(items, current, allowance));
  std::vector<size_t> choice(groups.size());
  for (size_t t = 0; t < groups.size(); ++t) choice[t] = source[t][picked.choice[t]];
  std::vector<LayerAction> actions = item_actions(ctx_.layers, groups, choice);
  if (actions == base) return std::optional<std::vector<LayerAction>>();
  return std::optional<std::vector<LayerAction>>(std::move(actions));
}

Status SearchRun::fill(double room) {
  double share = kFillShare;
  for (int attempt = 1; attempt <= kFillAttempts; ++attempt) {
    const BuiltCandidate* base = smallest_within_budget();
    if (!base) return Status::Ok();
    const double slack = room - damage(base->candidate.quality);
    // Prune ratios stay, so the fill never needs the pruning probe (allocate_measured).
    EMBER_ASSIGN_OR_RETURN(const auto actions, fill_actions(base->actions, slack, damage(base->candidate.quality), share));
    if (!actions) return Status::Ok();
    stage("fill: spending the measured slack on cheaper actions (attempt " + std::to_string(attempt) + ")");
    EMBER_ASSIGN_OR_RETURN(const Candidate* c, try_actions("fill-" + std::to_string(attempt), *actions));
    if (!c->within_budget) share /= 2;
  }
  return Status::Ok();
}

}  // namespace ember::passes::search

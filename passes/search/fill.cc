#include "passes/search/fill.h"

#include <algorithm>

namespace ember::passes::search {

Result<Allocation> fill_cheaper(const std::vector<std::vector<Option>>& items, const std::vector<size_t>& current,
                                double allowance, int64_t max_units) {
  if (current.size() != items.size()) return internal_error("fill: one current choice per item expected");
  std::vector<std::vector<Option>> restricted(items.size());
  std::vector<std::vector<size_t>> source(items.size());
  double limit = std::max(0.0, allowance);
  for (size_t i = 0; i < items.size(); ++i) {
    if (current[i] >= items[i].size()) return internal_error("fill: a current choice is not one of its item's options");
    const Option& now = items[i][current[i]];
    limit += now.loss;
    for (size_t a = 0; a < items[i].size(); ++a)
      if (items[i][a].cost <= now.cost) restricted[i].push_back(items[i][a]), source[i].push_back(a);
  }
  EMBER_ASSIGN_OR_RETURN(Allocation picked, allocate_smallest(restricted, limit, max_units));
  // The DP rounds costs to units: never hand back more loss than the verified choice when it
  // is no cheaper in exact bytes.
  Allocation out;
  out.choice.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    out.choice[i] = source[i][picked.choice[i]];
    out.cost += items[i][out.choice[i]].cost;
    out.loss += items[i][out.choice[i]].loss;
  }
  int64_t now_cost = 0;
  double now_loss = 0;
  for (size_t i = 0; i < items.size(); ++i) now_cost += items[i][current[i]].cost, now_loss += items[i][current[i]].loss;
  if (out.cost >= now_cost && out.loss >= now_loss) return Allocation{current, now_cost, now_loss};
  return out;
}

double fill_allowance(double slack, double measured_damage, double predicted_loss, double metric_per_loss, double share) {
  if (!(slack > 0) || !(share > 0)) return 0;
  double per_loss = metric_per_loss;
  if (predicted_loss > 0 && measured_damage > 0) per_loss = std::max(per_loss, measured_damage / predicted_loss);
  return per_loss > 0 ? slack * share / per_loss : 0;
}

}  // namespace ember::passes::search

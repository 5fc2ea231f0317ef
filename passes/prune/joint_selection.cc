#include "passes/prune/joint_selection.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace ember::passes::prune {

std::vector<int64_t> select_by_params(const std::vector<BudgetLayer>& layers, double fraction, double min_keep) {
  std::vector<int64_t> counts(layers.size(), 0), limit(layers.size(), 0);
  std::vector<std::tuple<double, size_t, double>> order;  // score per parameter, layer, score
  double total = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& s = *layers[l].scores;
    const int64_t n = static_cast<int64_t>(s.size());
    const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(min_keep * static_cast<double>(n))));
    limit[l] = std::max<int64_t>(0, n - keep);
    total += static_cast<double>(n) * static_cast<double>(layers[l].unit_params);
    const double per = 1.0 / static_cast<double>(std::max<int64_t>(1, layers[l].unit_params));
    for (double v : s) order.emplace_back(v * per, l, v);
  }
  std::sort(order.begin(), order.end());
  const double target = fraction * total;
  double removed = 0;
  for (const auto& [per_param, l, score] : order) {
    if (removed >= target) break;
    if (counts[l] >= limit[l]) continue;
    ++counts[l];  // the layer's units come in score order, so its count-lowest are the ones taken
    removed += static_cast<double>(layers[l].unit_params);
  }
  return counts;
}

}  // namespace ember::passes::prune

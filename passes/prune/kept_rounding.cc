#include "passes/prune/kept_rounding.h"

#include <algorithm>
#include <tuple>

namespace ember::passes::prune {

void round_kept_to_multiple(NeuronSelection& selection, const std::vector<std::vector<double>>& scores, int64_t multiple) {
  if (multiple <= 1) return;
  for (size_t l = 0; l < scores.size(); ++l) {
    const int64_t n = static_cast<int64_t>(scores[l].size());
    std::vector<int64_t>& removed = selection.removed[l];
    const int64_t kept = n - static_cast<int64_t>(removed.size());
    if (n < multiple || removed.empty()) continue;
    const int64_t target = std::clamp((kept + multiple / 2) / multiple * multiple, multiple, n);
    std::vector<bool> is_removed(size_t(n), false);
    for (int64_t r : removed) is_removed[size_t(r)] = true;
    std::vector<std::pair<double, int64_t>> order;  // (score, unit) of the side that changes
    const bool give_back = target > kept;
    for (int64_t u = 0; u < n; ++u)
      if (is_removed[size_t(u)] == give_back) order.emplace_back(scores[l][size_t(u)], u);
    if (give_back) std::sort(order.rbegin(), order.rend());  // the best removed units come back first
    else std::sort(order.begin(), order.end());             // the worst kept units go first
    const int64_t change = give_back ? target - kept : kept - target;
    for (int64_t i = 0; i < change && i < static_cast<int64_t>(order.size()); ++i)
      is_removed[size_t(order[size_t(i)].second)] = !give_back;
    removed.clear();
    double threshold = 0;
    for (int64_t u = 0; u < n; ++u)
      if (is_removed[size_t(u)]) removed.push_back(u), threshold = std::max(threshold, scores[l][size_t(u)]);
    selection.threshold[l] = threshold;
  }
}

}  // namespace ember::passes::prune

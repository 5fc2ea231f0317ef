#include "passes/prune/kept_rounding.h"

#include <algorithm>
#include <tuple>

namespace ember::passes::prune {

void round_layer_kept(std::vector<int64_t>& removed, double& threshold, const std::vector<double>& scores, int64_t multiple,
                      KeptRounding rounding) {
  const int64_t n = static_cast<int64_t>(scores.size());
  const int64_t kept = n - static_cast<int64_t>(removed.size());
  if (multiple <= 1 || n < multiple || removed.empty()) return;
  const int64_t up = rounding == KeptRounding::kUp ? multiple - 1 : multiple / 2;
  const int64_t target = std::clamp((kept + up) / multiple * multiple, multiple, n);
  std::vector<bool> is_removed(size_t(n), false);
  for (int64_t r : removed) is_removed[size_t(r)] = true;
  std::vector<std::pair<double, int64_t>> order;  // (score, unit) of the side that changes
  const bool give_back = target > kept;
  for (int64_t u = 0; u < n; ++u)
    if (is_removed[size_t(u)] == give_back) order.emplace_back(scores[size_t(u)], u);
  if (give_back) std::sort(order.rbegin(), order.rend());  // the best removed units come back first
  else std::sort(order.begin(), order.end());             // the worst kept units go first
  const int64_t change = give_back ? target - kept : kept - target;
  for (int64_t i = 0; i < change && i < static_cast<int64_t>(order.size()); ++i)
    is_removed[size_t(order[size_t(i)].second)] = !give_back;
  removed.clear();
  for (int64_t u = 0; u < n; ++u)
    if (is_removed[size_t(u)]) removed.push_back(u);
  threshold = highest_score(scores, removed);
}

void round_kept_to_multiple(NeuronSelection& selection, const std::vector<std::vector<double>>& scores, int64_t multiple) {
  for (size_t l = 0; l < scores.size(); ++l)
    round_layer_kept(selection.removed[l], selection.threshold[l], scores[l], multiple);
}

}  // namespace ember::passes::prune

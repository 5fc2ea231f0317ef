#include "passes/prune/neuron_selection.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace ember::passes::prune {
namespace {

int64_t removable(size_t n, double min_keep) {
  const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(min_keep * static_cast<double>(n))));
  return std::max<int64_t>(0, static_cast<int64_t>(n) - keep);
}

}  // namespace

NeuronSelection select_neurons(const std::vector<std::vector<double>>& scores, double ratio, bool global,
                               double min_keep) {
  NeuronSelection out;
  out.removed.resize(scores.size());
  out.threshold.assign(scores.size(), 0.0);
  std::vector<std::tuple<double, size_t, int64_t>> order;  // score, layer, neuron
  std::vector<int64_t> budget(scores.size());
  int64_t total = 0;
  for (size_t l = 0; l < scores.size(); ++l) {
    for (size_t n = 0; n < scores[l].size(); ++n) order.emplace_back(scores[l][n], l, static_cast<int64_t>(n));
    const int64_t want = static_cast<int64_t>(std::floor(ratio * static_cast<double>(scores[l].size())));
    budget[l] = std::min(removable(scores[l].size(), min_keep), global ? removable(scores[l].size(), min_keep) : want);
    total += static_cast<int64_t>(scores[l].size());
  }
  std::sort(order.begin(), order.end());
  int64_t left = global ? static_cast<int64_t>(std::floor(ratio * static_cast<double>(total))) : total;
  for (const auto& [score, l, n] : order) {
    if (left == 0) break;
    if (static_cast<int64_t>(out.removed[l].size()) >= budget[l]) continue;
    out.removed[l].push_back(n);
    out.threshold[l] = std::max(out.threshold[l], score);
    --left;
  }
  for (auto& r : out.removed) std::sort(r.begin(), r.end());
  return out;
}

}  // namespace ember::passes::prune

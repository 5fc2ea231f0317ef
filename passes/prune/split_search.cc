#include "passes/prune/split_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

namespace ember::passes::prune {
namespace {

// Units of one kind in global order: (score, layer, unit), lowest first.
std::vector<std::tuple<double, size_t, int64_t>> kind_order(const std::vector<SplitLayer>& layers, bool head) {
  std::vector<std::tuple<double, size_t, int64_t>> order;
  for (size_t l = 0; l < layers.size(); ++l)
    if (layers[l].head == head)
      for (size_t u = 0; u < layers[l].probe.scores->size(); ++u) order.emplace_back((*layers[l].probe.scores)[u], l, static_cast<int64_t>(u));
  std::sort(order.begin(), order.end());
  return order;
}

// Takes units of `order` into `removed` until `stop` says enough; returns the parameters taken.
template <class Stop>
double take(const std::vector<std::tuple<double, size_t, int64_t>>& order, const std::vector<SplitLayer>& layers,
            const std::vector<int64_t>& limit, std::vector<std::vector<int64_t>>& removed, Stop stop) {
  double params = 0;
  int64_t count = 0;
  for (const auto& [score, l, u] : order) {
    if (stop(params, count)) break;
    if (static_cast<int64_t>(removed[l].size()) >= limit[l]) continue;
    removed[l].push_back(u);
    params += static_cast<double>(layers[l].unit_params);
    ++count;
  }
  return params;
}

}  // namespace

Result<SplitChoice> search_split(const ProbeMeter& meter, const std::vector<SplitLayer>& layers, double fraction,
                                 double min_keep) {
  std::vector<int64_t> limit(layers.size());
  double total = 0;
  int64_t heads_limit = 0, head_params = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t n = static_cast<int64_t>(layers[l].probe.scores->size());
    limit[l] = std::max<int64_t>(0, n - std::max<int64_t>(1, static_cast<int64_t>(std::ceil(min_keep * static_cast<double>(n)))));
    total += static_cast<double>(n * layers[l].unit_params);
    if (layers[l].head) heads_limit += limit[l], head_params = std::max(head_params, layers[l].unit_params);
  }
  const double target = fraction * total;
  const auto heads = kind_order(layers, true), neurons = kind_order(layers, false);
  const int64_t most = head_params == 0 ? 0 : std::min<int64_t>(heads_limit, static_cast<int64_t>(target / static_cast<double>(head_params)));
  const int64_t step = std::max<int64_t>(1, (most + 15) / 16);
  std::vector<ProbeLayer> probes;
  for (const SplitLayer& l : layers) probes.push_back(l.probe);
  SplitChoice best;
  double best_kl = 0, best_params = 0;
  bool best_meets = false;
  for (int64_t k = 0; k <= most; k += step) {
    std::vector<std::vector<int64_t>> removed(layers.size());
    const double hp = take(heads, layers, limit, removed, [&](double, int64_t n) { return n == k; });
    const double taken = hp + take(neurons, layers, limit, removed, [&](double p, int64_t) { return hp + p >= target; });
    EMBER_ASSIGN_OR_RETURN(const double kl, meter.masked_kl(probes, removed));
    best.tried_kl.push_back(kl);
    best.tried_heads.push_back(k);
    // A split whose neurons hit their floors before the budget removes less and so looks cheaper:
    // it wins only when no split meets the budget (then the one that removes the most).
    const bool meets = taken >= target;
    const bool better = best.counts.empty() || (meets && !best_meets) ||
                        (meets == best_meets && (meets ? kl < best_kl : taken > best_params));
    if (better) {
      best_kl = kl, best_params = taken, best_meets = meets;
      best.counts.clear();
      for (const auto& r : removed) best.counts.push_back(static_cast<int64_t>(r.size()));
    }
  }
  return best;
}

}  // namespace ember::passes::prune

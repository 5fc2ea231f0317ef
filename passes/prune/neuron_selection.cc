#include "passes/prune/neuron_selection.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

void select_lowest(NeuronSelection& selection, const std::vector<std::vector<double>>& scores, size_t layer, int64_t count) {
  const std::vector<double>& s = scores[layer];
  std::vector<int64_t> order(s.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int64_t>(k);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[size_t(a)] < s[size_t(b)]; });
  const int64_t n = std::clamp<int64_t>(count, 0, std::max<int64_t>(0, static_cast<int64_t>(s.size()) - 1));
  std::vector<int64_t>& removed = selection.removed[layer];
  removed.assign(order.begin(), order.begin() + n);
  selection.threshold[layer] = highest_score(s, removed);
  std::sort(removed.begin(), removed.end());
}

double highest_score(const std::vector<double>& scores, const std::vector<int64_t>& units) {
  double out = 0;
  for (int64_t u : units) out = std::max(out, scores[size_t(u)]);
  return out;
}

Result<std::map<std::string, int64_t>> parse_unit_counts(const std::string& text, const std::string& option) {
  std::map<std::string, int64_t> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(';', at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at);
    const size_t colon = item.rfind(':');
    char* stop = nullptr;
    const long long count = colon == std::string::npos ? -1 : std::strtoll(item.c_str() + colon + 1, &stop, 10);
    if (colon == std::string::npos || colon == 0 || count < 0 || !stop || *stop != '\0' || colon + 1 == item.size())
      return invalid_input("prune-structured: " + option + " wants NODE:COUNT;NODE:COUNT, got '" + item + "'");
    out[item.substr(0, colon)] = count;
    at = end + 1;
  }
  return out;
}

}  // namespace ember::passes::prune

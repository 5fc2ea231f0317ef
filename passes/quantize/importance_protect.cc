#include "passes/quantize/importance_protect.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "passes/analysis/importance.h"

namespace ember::passes::quant {
namespace {

// The predicted loss increase of the candidate nearest (bits, block); NaN when none has those bits.
double predicted_increase(const analysis::TensorImportance& t, int bits, int64_t block) {
  double best = std::nan(""), distance = 1e18;
  for (const auto& c : t.candidates) {
    if (c.precision != "int" + std::to_string(bits)) continue;
    const double d = std::abs(static_cast<double>(c.block - block));
    if (d < distance) best = c.predicted_loss_increase, distance = d;
  }
  return best;
}

}  // namespace

Result<std::vector<std::string>> most_sensitive_layers(const ir::Model& model, PassContext& ctx,
                                                      const std::vector<analysis::Layer>& targets, int bits,
                                                      int64_t block, int64_t k) {
  if (k <= 0 || targets.empty()) return std::vector<std::string>{};
  EMBER_ASSIGN_OR_RETURN(const auto scores, ctx.analyses.find_or_get<analysis::ImportanceAnalysis>(model));
  std::map<std::string, double> increase;
  for (const auto& t : scores->tensors) increase[t.name] = predicted_increase(t, bits, block);
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& layer : targets) {
    auto it = increase.find(layer.weight);
    if (it != increase.end() && !std::isnan(it->second)) ranked.push_back({it->second, layer.weight});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < ranked.size() && static_cast<int64_t>(i) < k; ++i) out.push_back(ranked[i].second);
  return out;
}

}  // namespace ember::passes::quant

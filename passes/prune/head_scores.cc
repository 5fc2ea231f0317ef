#include "passes/prune/head_scores.h"

#include <cmath>

#include "passes/analysis/importance.h"
#include "passes/analysis/layer_inputs.h"

namespace ember::passes::prune {
namespace {

Result<std::vector<std::vector<double>>> gradient_scores(const ir::Model& model, PassContext& ctx,
                                                         const std::vector<HeadGroup>& groups, NeuronScore score) {
  EMBER_ASSIGN_OR_RETURN(const auto report, ctx.analyses.find_or_get<analysis::ImportanceAnalysis>(model));
  auto find = [&](const analysis::AttentionBlock& block) { return analysis::find_head_importance(*report, block); };
  std::vector<std::vector<double>> out;
  for (const HeadGroup& g : groups) {
    const analysis::HeadImportance* found = find(g.block);
    const analysis::HeadImportance* kv = g.grouped_query() ? find(g.kv_block) : nullptr;
    if (!found || (g.grouped_query() && !kv))
      return invalid_input("prune-structured: the importance analysis has no head scores for the block of '" +
                           g.name() + "' (score=magnitude, wanda or fluctuation need no gradients)");
    auto pick = [&](const analysis::HeadImportance& h, bool own) -> const std::vector<double>& {
      const bool fisher = score == NeuronScore::kFisher || score == NeuronScore::kFisherFirst;
      if (own || score == NeuronScore::kTaylorFirst || score == NeuronScore::kFisherFirst) return fisher ? h.fisher_first : h.taylor_first;
      return fisher ? h.fisher : h.taylor;
    };
    const bool taylor = score == NeuronScore::kTaylor || score == NeuronScore::kTaylorFirst;
    const std::vector<double>* whole = !kv ? nullptr : score == NeuronScore::kTaylor ? &kv->group_taylor : &kv->group_taylor_first;
    if (taylor && whole && static_cast<int64_t>(whole->size()) == g.units()) {  // the unit's |sum g w| itself
      out.push_back(*whole);
      continue;
    }
    std::vector<double> s(size_t(g.units()), 0.0);
    const int64_t per_unit = g.heads() / g.units();
    const std::vector<double>& q = pick(*found, false);
    for (int64_t h = 0; h < g.heads() && size_t(h) < q.size(); ++h) s[size_t(h / per_unit)] += q[size_t(h)];
    if (kv) {  // a GQA unit: its query heads (with their output rows) and its key/value head's columns
      const std::vector<double>& k = pick(*kv, true);
      for (size_t u = 0; u < s.size() && u < k.size(); ++u) s[u] += k[u];
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<double> magnitude(const ir::Graph& graph, const HeadGroup& g) {
  const int64_t H = g.units();
  std::vector<double> in(size_t(H), 0.0), out(size_t(H), 0.0);
  for (const HeadProjection& p : g.projections) {
    const std::vector<float> w = analysis::canonical_matrix(p.layer, *graph.find_initializer(p.layer.weight));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c : g.unit_channels({h}, g.heads_of(p), p.sections))
        for (int64_t k = 0; k < p.layer.reduction; ++k) in[size_t(h)] += double(w[size_t(c * p.layer.reduction + k)]) * w[size_t(c * p.layer.reduction + k)];
  }
  const std::vector<double> rows = column_power_sums(graph, g.output, 2);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t c : g.unit_channels({h}, g.heads(), 1)) out[size_t(h)] += rows[size_t(c)];
  std::vector<double> s(static_cast<size_t>(H), 0.0);
  for (int64_t h = 0; h < H; ++h) s[size_t(h)] = std::sqrt(in[size_t(h)] * out[size_t(h)]);
  return s;
}

Result<std::vector<double>> activation_score(const ir::Graph& graph, const HeadGroup& g,
                                             const analysis::LayerInputStats& stats, bool wanda) {
  const int64_t H = g.units(), n = g.heads() * g.head_dim(), per_unit = n / H;
  if (!stats.xtx || stats.xtx->dim() != n || stats.sum.size() != size_t(n))
    return invalid_input("prune-structured: no statistics of '" + g.output.input + "', the input of '" + g.output.node + "'");
  const std::vector<float> h2 = stats.xtx->hessian();  // 2/rows X^T X
  const std::vector<double> mu = stats.mean();
  const std::vector<double> norms = column_power_sums(graph, g.output, wanda ? 1 : 2);
  std::vector<double> s(size_t(H), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    const double second = 0.5 * h2[size_t(c * n + c)];
    const double act = wanda ? std::sqrt(std::max(0.0, second)) : std::max(0.0, second - mu[size_t(c)] * mu[size_t(c)]);
    s[size_t(c / per_unit)] += act * norms[size_t(c)];
  }
  return s;
}

}  // namespace

Result<std::vector<std::vector<double>>> score_heads(const ir::Model& model, PassContext& ctx,
                                                     const std::vector<HeadGroup>& groups, NeuronScore score) {
  if (score == NeuronScore::kObs) return invalid_input("prune-structured: score=obs does not score heads (taylor, fisher, magnitude, wanda, fluctuation do)");
  if (needs_importance(score)) return gradient_scores(model, ctx, groups, score);
  std::vector<std::vector<double>> out;
  if (score == NeuronScore::kMagnitude) {
    for (const HeadGroup& g : groups) out.push_back(magnitude(model.graph, g));
    return out;
  }
  EMBER_ASSIGN_OR_RETURN(auto inputs, ctx.analyses.get<analysis::LayerInputAnalysis>(model));
  for (const HeadGroup& g : groups) {
    auto it = inputs->stats.find(g.output.input);
    if (it == inputs->stats.end())
      return invalid_input("prune-structured: no calibration statistics for '" + g.output.input + "', the input of '" +
                           g.output.node + "'");
    EMBER_ASSIGN_OR_RETURN(auto s, activation_score(model.graph, g, it->second, score == NeuronScore::kWanda));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ember::passes::prune

#include "passes/prune/neuron_scores.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "passes/analysis/importance.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/quantize/cholesky.h"

namespace ember::passes::prune {
namespace {

using analysis::Layer;

// Per canonical row (output channel) of `layer`: the L2 norm (p = 2) or L1 norm (p = 1).
std::vector<double> row_norms(const ir::Graph& graph, const Layer& layer, int p) {
  const std::vector<float> w = analysis::canonical_matrix(layer, *graph.find_initializer(layer.weight));
  std::vector<double> out(static_cast<size_t>(layer.channels), 0.0);
  for (int64_t r = 0; r < layer.channels; ++r)
    for (int64_t c = 0; c < layer.reduction; ++c) {
      const double v = w[size_t(r * layer.reduction + c)];
      out[size_t(r)] += p == 1 ? std::fabs(v) : v * v;
    }
  if (p == 2)
    for (double& v : out) v = std::sqrt(v);
  return out;
}

// Per canonical column (input row) of `layer`: the L2 norm (p = 2) or L1 norm (p = 1).
std::vector<double> column_norms(const ir::Graph& graph, const Layer& layer, int p) {
  std::vector<double> out = column_power_sums(graph, layer, p);
  if (p == 2)
    for (double& v : out) v = std::sqrt(v);
  return out;
}

// fluctuation: Var(a_n) ||W2_n||^2; obs: ||W2_n||^2 / [Sigma^-1]_nn.
Result<std::vector<double>> output_error_scores(const ir::Graph& graph, const FfnGroup& g,
                                                const analysis::LayerInputStats& stats, bool obs) {
  const int64_t n = g.neurons;
  if (stats.sum.size() != size_t(n)) return invalid_input("prune-structured: no means of '" + g.second.input + "'");
  const std::vector<double> mu = stats.mean();
  const std::vector<float> h = stats.xtx->hessian();  // 2/rows X^T X
  std::vector<double> s = column_norms(graph, g.second, 2);
  for (double& v : s) v *= v;
  if (!obs) {
    for (int64_t i = 0; i < n; ++i) s[size_t(i)] *= std::max(0.0, 0.5 * h[size_t(i * n + i)] - mu[size_t(i)] * mu[size_t(i)]);
    return s;
  }
  std::vector<float> sigma(size_t(n * n));
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      sigma[size_t(i * n + j)] = static_cast<float>(0.5 * h[size_t(i * n + j)] - mu[size_t(i)] * mu[size_t(j)]);
    mean_diag += sigma[size_t(i * n + i)];
  }
  mean_diag = std::max(mean_diag / static_cast<double>(n), 1e-12);
  for (int64_t i = 0; i < n; ++i) sigma[size_t(i * n + i)] += static_cast<float>(0.01 * mean_diag);
  if (!quant::cholesky_lower(sigma, n))
    return internal_error("prune-structured: the covariance of '" + g.second.input + "' is not positive definite");
  const std::vector<float> linv = quant::invert_lower(sigma, n);
  std::vector<double> inv_diag(size_t(n), 0.0);  // [Sigma^-1]_jj = sum_i (L^-1)_ij^2
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) inv_diag[size_t(j)] += static_cast<double>(linv[size_t(i * n + j)]) * linv[size_t(i * n + j)];
  for (int64_t j = 0; j < n; ++j) s[size_t(j)] /= std::max(inv_diag[size_t(j)], 1e-30);
  return s;
}

Result<std::vector<std::vector<double>>> gradient_scores(const ir::Model& model, PassContext& ctx,
                                                         const std::vector<FfnGroup>& groups, NeuronScore score) {
  EMBER_ASSIGN_OR_RETURN(const auto report, ctx.analyses.find_or_get<analysis::ImportanceAnalysis>(model));
  std::map<std::string, const analysis::TensorImportance*> by_name;
  for (const auto& t : report->tensors) by_name[t.name] = &t;
  std::vector<std::vector<double>> out;
  for (const FfnGroup& g : groups) {
    auto it = by_name.find(g.first.weight);
    const analysis::GroupScores* gs = it == by_name.end() ? nullptr : &it->second->groups;
    const std::vector<double>* scores = !gs                                   ? nullptr
                                        : score == NeuronScore::kFisher       ? &gs->fisher
                                        : score == NeuronScore::kTaylorFirst  ? &gs->taylor_first
                                        : score == NeuronScore::kFisherFirst  ? &gs->fisher_first
                                                                              : &gs->taylor;
    if (!scores || static_cast<int64_t>(scores->size()) != g.neurons)
      return invalid_input("prune-structured: the importance analysis has no per-neuron scores for '" + g.first.weight +
                           "' (score=magnitude or wanda need no gradients)");
    out.push_back(*scores);
  }
  return out;
}

}  // namespace

std::vector<double> column_power_sums(const ir::Graph& graph, const Layer& layer, int p) {
  const std::vector<float> w = analysis::canonical_matrix(layer, *graph.find_initializer(layer.weight));
  std::vector<double> out(static_cast<size_t>(layer.reduction), 0.0);
  for (int64_t r = 0; r < layer.channels; ++r)
    for (int64_t c = 0; c < layer.reduction; ++c) {
      const double v = w[size_t(r * layer.reduction + c)];
      out[size_t(c)] += p == 1 ? std::fabs(v) : v * v;
    }
  return out;
}

Result<NeuronScore> parse_neuron_score(const std::string& name) {
  if (name == "taylor") return NeuronScore::kTaylor;
  if (name == "fisher") return NeuronScore::kFisher;
  if (name == "taylor-first") return NeuronScore::kTaylorFirst;
  if (name == "fisher-first") return NeuronScore::kFisherFirst;
  if (name == "magnitude") return NeuronScore::kMagnitude;
  if (name == "wanda") return NeuronScore::kWanda;
  if (name == "fluctuation") return NeuronScore::kFluctuation;
  if (name == "obs") return NeuronScore::kObs;
  return invalid_input("prune-structured: unknown score '" + name + "' (taylor, fisher, taylor-first, fisher-first, magnitude, wanda, fluctuation, obs)");
}

bool needs_importance(NeuronScore score) {
  return score == NeuronScore::kTaylor || score == NeuronScore::kFisher || score == NeuronScore::kTaylorFirst ||
         score == NeuronScore::kFisherFirst;
}
bool needs_layer_inputs(NeuronScore score) {
  return score == NeuronScore::kWanda || score == NeuronScore::kFluctuation || score == NeuronScore::kObs;
}

Result<std::vector<std::vector<double>>> score_neurons(const ir::Model& model, PassContext& ctx,
                                                       const std::vector<FfnGroup>& groups, NeuronScore score) {
  if (groups.empty()) return std::vector<std::vector<double>>{};  // nothing to score: no analysis to run
  if (needs_importance(score)) return gradient_scores(model, ctx, groups, score);
  std::shared_ptr<const analysis::LayerInputAnalysis::Output> inputs;
  if (needs_layer_inputs(score)) {
    EMBER_ASSIGN_OR_RETURN(inputs, ctx.analyses.get<analysis::LayerInputAnalysis>(model));
  }
  std::vector<std::vector<double>> out;
  for (const FfnGroup& g : groups) {
    if (score == NeuronScore::kMagnitude) {
      std::vector<double> s = row_norms(model.graph, g.first, 2);
      for (const Layer& p : g.parallel) {  // a gated FFN: the norm of the neuron's gate and up columns together
        const std::vector<double> up = row_norms(model.graph, p, 2);
        for (size_t n = 0; n < s.size(); ++n) s[n] = std::sqrt(s[n] * s[n] + up[n] * up[n]);
      }
      const std::vector<double> rows = column_norms(model.graph, g.second, 2);
      for (size_t n = 0; n < s.size(); ++n) s[n] *= rows[n];
      out.push_back(std::move(s));
      continue;
    }
    auto it = inputs->stats.find(g.second.input);
    if (it == inputs->stats.end() || !it->second.xtx)
      return invalid_input("prune-structured: no calibration statistics for '" + g.second.input + "', the input of '" +
                           g.second.node + "'");
    if (score != NeuronScore::kWanda) {
      EMBER_ASSIGN_OR_RETURN(auto s, output_error_scores(model.graph, g, it->second, score == NeuronScore::kObs));
      out.push_back(std::move(s));
      continue;
    }
    const std::vector<float> mean_square = it->second.xtx->mean_square();
    std::vector<double> s = column_norms(model.graph, g.second, 1);
    for (size_t n = 0; n < s.size(); ++n) s[n] *= std::sqrt(static_cast<double>(mean_square[n]));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ember::passes::prune

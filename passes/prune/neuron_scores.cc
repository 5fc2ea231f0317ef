#include "passes/prune/neuron_scores.h"

#include <cmath>
#include <map>

#include "passes/analysis/importance.h"
#include "passes/analysis/layer_inputs.h"

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

// Per canonical column (input row) of `layer`.
std::vector<double> column_norms(const ir::Graph& graph, const Layer& layer, int p) {
  const std::vector<float> w = analysis::canonical_matrix(layer, *graph.find_initializer(layer.weight));
  std::vector<double> out(static_cast<size_t>(layer.reduction), 0.0);
  for (int64_t r = 0; r < layer.channels; ++r)
    for (int64_t c = 0; c < layer.reduction; ++c) {
      const double v = w[size_t(r * layer.reduction + c)];
      out[size_t(c)] += p == 1 ? std::fabs(v) : v * v;
    }
  if (p == 2)
    for (double& v : out) v = std::sqrt(v);
  return out;
}

Result<std::vector<std::vector<double>>> gradient_scores(const ir::Model& model, PassContext& ctx,
                                                         const std::vector<FfnGroup>& groups, bool fisher) {
  auto report = ctx.analyses.find<analysis::ImportanceAnalysis>();
  if (!report) {
    EMBER_ASSIGN_OR_RETURN(report, ctx.analyses.get<analysis::ImportanceAnalysis>(model));
  }
  std::map<std::string, const analysis::TensorImportance*> by_name;
  for (const auto& t : report->tensors) by_name[t.name] = &t;
  std::vector<std::vector<double>> out;
  for (const FfnGroup& g : groups) {
    auto it = by_name.find(g.first.weight);
    const auto* scores = it == by_name.end() ? nullptr : (fisher ? &it->second->groups.fisher : &it->second->groups.taylor);
    if (!scores || static_cast<int64_t>(scores->size()) != g.neurons)
      return invalid_input("prune-structured: the importance analysis has no per-neuron scores for '" + g.first.weight +
                           "' (score=magnitude or wanda need no gradients)");
    out.push_back(*scores);
  }
  return out;
}

}  // namespace

Result<NeuronScore> parse_neuron_score(const std::string& name) {
  if (name == "taylor") return NeuronScore::kTaylor;
  if (name == "fisher") return NeuronScore::kFisher;
  if (name == "magnitude") return NeuronScore::kMagnitude;
  if (name == "wanda") return NeuronScore::kWanda;
  return invalid_input("prune-structured: unknown score '" + name + "' (taylor, fisher, magnitude, wanda)");
}

bool needs_importance(NeuronScore score) { return score == NeuronScore::kTaylor || score == NeuronScore::kFisher; }
bool needs_layer_inputs(NeuronScore score) { return score == NeuronScore::kWanda; }

Result<std::vector<std::vector<double>>> score_neurons(const ir::Model& model, PassContext& ctx,
                                                       const std::vector<FfnGroup>& groups, NeuronScore score) {
  if (needs_importance(score)) return gradient_scores(model, ctx, groups, score == NeuronScore::kFisher);
  std::shared_ptr<const analysis::LayerInputAnalysis::Output> inputs;
  if (needs_layer_inputs(score)) {
    EMBER_ASSIGN_OR_RETURN(inputs, ctx.analyses.get<analysis::LayerInputAnalysis>(model));
  }
  std::vector<std::vector<double>> out;
  for (const FfnGroup& g : groups) {
    if (score == NeuronScore::kMagnitude) {
      std::vector<double> s = row_norms(model.graph, g.first, 2);
      const std::vector<double> rows = column_norms(model.graph, g.second, 2);
      for (size_t n = 0; n < s.size(); ++n) s[n] *= rows[n];
      out.push_back(std::move(s));
      continue;
    }
    auto it = inputs->stats.find(g.second.input);
    if (it == inputs->stats.end() || !it->second.xtx)
      return invalid_input("prune-structured: no calibration statistics for '" + g.second.input + "', the input of '" +
                           g.second.node + "'");
    const std::vector<float> mean_square = it->second.xtx->mean_square();
    std::vector<double> s = column_norms(model.graph, g.second, 1);
    for (size_t n = 0; n < s.size(); ++n) s[n] *= std::sqrt(static_cast<double>(mean_square[n]));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ember::passes::prune

// Importance of each FFN neuron (ffn_groups.h), lower = removed first.
//   taylor:    the importance analysis's first-order Taylor score of the whole group: mean over
//              batches of |sum g w| over W1's column n, b1[n] and W2's row n (loss units).
//   fisher:    its second-order counterpart, 1/2 sum F w^2 over the same weights.
//   taylor-first, fisher-first: the same over W1's column and b1[n] only (the first layer's
//              output channel; on kjv-gpt2 this ranks better, bench/RESULTS.md).
//   magnitude: ||W1[:, n]||_2 * ||W2[n, :]||_2 (invariant to rescaling a ReLU neuron).
//   wanda:     ||W2[n, :]||_1 * sqrt(E[a_n^2]), a_n the consumer's input (Wanda, Sun et al. 2023,
//              summed over the neuron's row).
//   fluctuation: Var(a_n) * ||W2[n, :]||_2^2 (FLAP, An et al. 2024): the consumer's output
//              error when a_n is replaced by its mean (bias compensation).
//   obs:       ||W2[n, :]||_2^2 / [Sigma^-1]_nn, Sigma the covariance of a (ridge-damped): the
//              output error left after the least squares refit when neuron n alone is removed
//              (Optimal Brain Surgeon for a row; 1 / [Sigma^-1]_nn is a_n's variance that the
//              other neurons cannot predict).
// Taylor and Fisher are in loss units, so they rank neurons across layers; magnitude and
// wanda compare best within a layer (ranking=uniform).
#pragma once
#include <string>
#include <vector>

#include "passes/pass.h"
#include "passes/prune/ffn_groups.h"

namespace ember::passes::prune {

enum class NeuronScore { kTaylor, kFisher, kMagnitude, kWanda, kFluctuation, kObs, kTaylorFirst, kFisherFirst };
// taylor | fisher | taylor-first | fisher-first | magnitude | wanda | fluctuation | obs
Result<NeuronScore> parse_neuron_score(const std::string& name);
// Per canonical column (input channel) of `layer`: sum |w| (p = 1) or sum w^2 (p = 2).
std::vector<double> column_power_sums(const ir::Graph& graph, const analysis::Layer& layer, int p);
bool needs_importance(NeuronScore score);
bool needs_layer_inputs(NeuronScore score);

// One score per neuron of each group, in group order.
Result<std::vector<std::vector<double>>> score_neurons(const ir::Model& model, PassContext& ctx,
                                                       const std::vector<FfnGroup>& groups, NeuronScore score);

}  // namespace ember::passes::prune

#include "passes/prune/prune_structured.h"

#include <algorithm>

#include "ir/verifier.h"
#include "passes/analysis/importance.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/graph_edit.h"
#include "passes/prune/head_pruning.h"
#include "passes/prune/conv_pruning.h"
#include "passes/prune/head_scores.h"
#include "passes/prune/head_width.h"
#include "passes/prune/joint_selection.h"
#include "passes/prune/kept_rounding.h"
#include "passes/prune/probe_calibration.h"
#include "passes/prune/model_macs.h"
#include "passes/prune/neuron_scores.h"
#include "passes/prune/neuron_selection.h"
#include "passes/prune/obs_selection.h"
#include "passes/prune/prune_edit.h"
#include "passes/prune/recovery.h"
#include "passes/prune/sequential_refit.h"
#include "passes/prune/split_search.h"

namespace ember::passes {
namespace {

using analysis::Layer;
using prune::FfnGroup;

struct PruneOptionValues {
  double ffn = 0.25, heads = 0;
  double head_width = 0;  // head_width.h: share of every head's channels removed (instead of whole heads)
  double params = 0;  // joint_selection.h: neurons and heads under one parameter budget
  int64_t importance_rows = 0;  // > 0: gradient scores from the first rows only (what a search used)
  int64_t probe_batches = 2;  // probe_calibration.h: calibration batches per probe (0: raw scores)
  std::string probe = "split";  // split_search.h; kind: one factor per unit kind; layer: one per layer
  std::string score = "taylor-first", head_score = "taylor", ranking = "global", recovery = "lsq", heads_per_block;
  std::string ffn_per_layer;  // NODE:COUNT;... exact neuron counts per FFN (a per-layer search's choice)
  double min_keep = 0.1, damp = 0.01;
  double channels = 0;   // conv_pruning.h
  int64_t multiple = 1;  // kept_rounding.h
  int64_t refit_rows = 8192;  // rows (tokens) per consumer input in the recovery's statistics (the scores keep 8192)
  std::string channel_ratios;  // conv_pruning.h parse_group_ratios
  std::string select = "score", head_select = "score";  // obs_selection.h: which units of a layer go, once its count is chosen
  double select_damp = 1;  // the ridge of the OBS selection's inverse covariance (the refit keeps damp)
};

const OptionTable<PruneOptionValues>& option_table() {
  using V = PruneOptionValues;
  static const OptionTable<V> table({
      {"ffn", &V::ffn, "Fraction of FFN neurons to remove, in [0, 1)"},
      {"heads", &V::heads, "Fraction of attention heads to remove, in [0, 1) (needs calibration data for the head layout; grouped-query attention: of its KV groups)"},
      {"head-width", &V::head_width,
       "Fraction of every attention head's channels to remove, in [0, 1): each head keeps d - round(R d) channels in "
       "new bases (Q/K: a whitened SVD of the scores, V/O: of the value-output map; head_width.h) instead of losing "
       "whole heads (heads must be 0); with params the narrowing counts in the budget and FFN neurons take the rest"},
      {"score", &V::score,
       "taylor | fisher: gradient importance of the neuron or head, its whole group (needs calibration); taylor-first | fisher-first: of the first layer's weights only (Q/K/V for heads); magnitude: ||W1 column|| * ||W2 row||; "
       "wanda: ||W2 row||_1 * RMS of the neuron's activation; fluctuation: Var(activation) * ||W2 row||^2 (FLAP); obs: ||W2 row||^2 / [Sigma^-1]_nn, the error left after the refit"},
      {"params", &V::params,
       "Fraction of the prunable FFN and attention parameters to remove, in [0, 1), neurons and heads under one budget "
       "(how it is split: probe); replaces ffn and heads when given"},
      {"importance-rows", &V::importance_rows,
       "Gradient scores (taylor, fisher) from the first N calibration rows only, 0 for every row; a compress search "
       "that prunes writes the rows it scored, so that `ember opt` replays its choice"},
      {"probe-batches", &V::probe_batches,
       "With params: calibration batches on which each layer's probe (its lowest-scoring share masked) measures the KL "
       "divergence that puts all layers' scores on one scale (0: the raw scores)"},
      {"probe", &V::probe,
       "With params: split: each kind keeps its global ranking and the share of heads is searched on a grid, every split "
       "measured by a probe (the units masked, KL on the calibration batches); kind: one probe for all FFN neurons and one "
       "for all heads scales their scores (the exchange rate), layer: one probe per layer; then ranked by score per parameter"},
      {"head-score", &V::head_score, "The score of attention heads (the same names; taylor by default, the whole head with its output rows)"},
      {"heads-per-block", &V::heads_per_block, "NODE:COUNT;...: remove exactly COUNT heads of the block whose first projection is NODE (overrides heads for it)"},
      {"ffn-per-layer", &V::ffn_per_layer, "NODE:COUNT;...: remove exactly COUNT neurons of the FFN whose first layer is NODE (overrides ffn for it)"},
      {"ranking", &V::ranking, "global: lowest scores over all layers; uniform: the same fraction in every layer"},
      {"recovery", &V::recovery,
       "none; bias: add the removed neurons' mean contribution to the next layer's bias; lsq: ridge least squares "
       "refit of the next layer's kept weights and bias on calibration statistics; lsq-seq: the same fit layer by layer "
       "on the pruned model's own activations, matching the original outputs"},
      {"min-keep", &V::min_keep, "Fraction of each layer's neurons always kept (at least one)"},
      {"damp", &V::damp, "lsq ridge damping, relative to the mean variance of the kept neurons"},
      {"refit-rows", &V::refit_rows,
       "Rows (tokens) of each FFN or attention consumer's input in the recovery's statistics (lsq, bias, lsq-seq), "
       "spread over the calibration set; the activation scores keep the layer-input analysis's 8192 (more rows cost one "
       "more calibration run)"},
      {"channels", &V::channels,
       "Fraction of convolution output channels to remove, in [0, 1) (conv_pruning.h: Conv -> BN/activations/pooling/"
       "depthwise -> Conv or Flatten -> Gemm; residual, excitation and Concat joins pruned jointly); when given without ffn, ffn is 0"},
      {"channel-ratios", &V::channel_ratios,
       "Per-group channel fractions 'NAME:R;NAME:R' (a group's or one of its producer Convs' node name); the others follow channels"},
      {"select", &V::select,
       "Which neurons of each FFN go once its count is chosen (by ffn, params or ffn-per-layer): score: the lowest "
       "scores; obs: greedy structured OBS, the neurons whose removal the least squares refit of the consumer restores "
       "best (its input covariance over refit-rows rows)"},
      {"head-select", &V::head_select, "The same for the heads of each attention block (score or obs)"},
      {"select-damp", &V::select_damp,
       "The ridge of select=obs's inverse input covariance, relative to its mean diagonal (the refit keeps damp; large "
       "values tend to the consumer columns' norms)"},
      {"multiple", &V::multiple, "Round each layer's kept neurons or channels to a multiple of this (1: as selected)"},
  });
  return table;
}

struct ParsedOptions {
  PruneOptionValues values;
  prune::NeuronScore score, head_score;
  std::map<std::string, int64_t> heads_per_block, ffn_per_layer;
  prune::Recovery recovery;
  std::map<std::string, double> group_ratios;
};

Result<ParsedOptions> parse(const PassOptions& options) {
  ParsedOptions p;
  EMBER_ASSIGN_OR_RETURN(p.values, option_table().parse(options));
  if ((options.has("channels") || options.has("channel-ratios")) && !options.has("ffn")) p.values.ffn = 0;
  if (options.has("params")) p.values.ffn = 0, p.values.heads = 0;  // the joint budget decides both
  const auto& v = p.values;
  if (v.probe != "split" && v.probe != "kind" && v.probe != "layer")
    return invalid_input("prune-structured: probe must be split, kind or layer, got '" + v.probe + "'");
  if (v.probe_batches < 0) return invalid_input("prune-structured: probe-batches must be >= 0");
  if (v.importance_rows < 0) return invalid_input("prune-structured: importance-rows must be >= 0");
  if (!(v.params >= 0 && v.params < 1))
    return invalid_input("prune-structured: params must be in [0, 1), got " + option_value_text(v.params));
  if (!(v.channels >= 0 && v.channels < 1))
    return invalid_input("prune-structured: channels must be in [0, 1), got " + option_value_text(v.channels));
  if (v.multiple < 1) return invalid_input("prune-structured: multiple must be >= 1");
  if (v.refit_rows < 1) return invalid_input("prune-structured: refit-rows must be >= 1");
  EMBER_ASSIGN_OR_RETURN(p.group_ratios, prune::parse_group_ratios(v.channel_ratios));
  if (!(v.ffn >= 0 && v.ffn < 1)) return invalid_input("prune-structured: ffn must be in [0, 1), got " + option_value_text(v.ffn));
  if (!(v.heads >= 0 && v.heads < 1)) return invalid_input("prune-structured: heads must be in [0, 1), got " + option_value_text(v.heads));
  if (!(v.head_width >= 0 && v.head_width < 1))
    return invalid_input("prune-structured: head-width must be in [0, 1), got " + option_value_text(v.head_width));
  if (v.head_width > 0 && (v.heads > 0 || !v.heads_per_block.empty()))
    return invalid_input("prune-structured: head-width narrows every head and cannot be combined with heads or heads-per-block");
  if (!(v.min_keep > 0 && v.min_keep <= 1)) return invalid_input("prune-structured: min-keep must be in (0, 1]");
  if (!(v.damp > 0)) return invalid_input("prune-structured: damp must be > 0");
  if (v.select != "score" && v.select != "obs")
    return invalid_input("prune-structured: select must be score or obs, got '" + v.select + "'");
  if (!(v.select_damp > 0)) return invalid_input("prune-structured: select-damp must be > 0");
  if (v.head_select != "score" && v.head_select != "obs")
    return invalid_input("prune-structured: head-select must be score or obs, got '" + v.head_select + "'");
  if (v.ranking != "global" && v.ranking != "uniform")
    return invalid_input("prune-structured: ranking must be global or uniform, got '" + v.ranking + "'");
  EMBER_ASSIGN_OR_RETURN(p.score, prune::parse_neuron_score(v.score));
  EMBER_ASSIGN_OR_RETURN(p.head_score, prune::parse_neuron_score(v.head_score));
  EMBER_ASSIGN_OR_RETURN(p.heads_per_block, prune::parse_heads_per_block(v.heads_per_block));
  EMBER_ASSIGN_OR_RETURN(p.ffn_per_layer, prune::parse_unit_counts(v.ffn_per_layer, "ffn-per-layer"));
  EMBER_ASSIGN_OR_RETURN(p.recovery, prune::parse_recovery(v.recovery));
  return p;
}

// importance-rows: the gradient importance of the first rows, computed before the scorers look
// for it (they take whatever importance the manager holds, e.g. the one a search computed).
Status score_first_rows(const ir::Model& model, PassContext& ctx, const ParsedOptions& opts) {
  const auto& v = opts.values;
  const bool heads = v.heads > 0 || v.params > 0 || !opts.heads_per_block.empty();
  const bool gradients = prune::needs_importance(opts.score) || (heads && prune::needs_importance(opts.head_score));
  if (v.importance_rows == 0 || !gradients || ctx.analyses.find<analysis::ImportanceAnalysis>()) return Status::Ok();
  analysis::ImportanceOptions io;
  io.rows = v.importance_rows;
  return ctx.analyses.get<analysis::ImportanceAnalysis>(model, io).status();
}

// ffn-per-layer: exact counts for the named FFNs; a name that is no prunable FFN is invalid input.
Status apply_per_layer_counts(const std::vector<FfnGroup>& groups, const std::vector<std::vector<double>>& scores,
                              const std::map<std::string, int64_t>& counts, prune::NeuronSelection& selection) {
  for (const auto& [node, count] : counts) {
    bool known = false;
    for (size_t i = 0; i < groups.size(); ++i)
      if (groups[i].first.node == node) {
        if (count >= groups[i].neurons)
          return invalid_input("prune-structured: ffn-per-layer asks " + std::to_string(count) + " of the " +
                               std::to_string(groups[i].neurons) + " neurons of '" + node + "' (a layer keeps at least one)");
        prune::select_lowest(selection, scores, i, count);
        known = true;
      }
    if (!known) return invalid_input("prune-structured: ffn-per-layer names '" + node + "', which is no prunable FFN's first layer");
  }
  return Status::Ok();
}

int64_t group_params(const FfnGroup& g, int64_t units) {
  return units * (g.input_width() + g.second.channels + static_cast<int64_t>(g.per_channel.size()));
}

// params=R: FFN neurons and attention heads ranked together (joint_selection.h); the counts
// per layer become the FFN selection and the heads' per-block counts.
Status select_jointly(const ir::Model& model, PassContext& ctx, const std::vector<FfnGroup>& groups,
                      const std::vector<std::vector<double>>& scores, const ParsedOptions& opts,
                      prune::NeuronSelection& selection, std::map<std::string, int64_t>& head_counts) {
  EMBER_ASSIGN_OR_RETURN(const prune::HeadGroups heads, prune::find_model_head_groups(model, ctx));
  EMBER_ASSIGN_OR_RETURN(const auto head_scores, prune::score_heads(model, ctx, heads.groups, opts.head_score));
  std::vector<std::vector<double>> scaled = scores;  // the probes rescale copies; the order within a layer stays
  auto apply_counts = [&](const std::vector<int64_t>& counts) {
    for (size_t i = 0; i < groups.size(); ++i) prune::select_lowest(selection, scores, i, counts[i]);
    for (size_t i = 0; i < heads.groups.size(); ++i) head_counts.emplace(heads.groups[i].name(), counts[groups.size() + i]);
  };
  scaled.insert(scaled.end(), head_scores.begin(), head_scores.end());
  std::vector<prune::BudgetLayer> layers;
  std::vector<prune::ProbeLayer> probes;
  for (size_t i = 0; i < groups.size(); ++i) {
    layers.push_back({&scaled[i], group_params(groups[i], 1)});
    prune::ProbeLayer p{groups[i].second, {}, &scaled[i]};
    for (int64_t n = 0; n < groups[i].neurons; ++n) p.channels.push_back({n});
    probes.push_back(std::move(p));
  }
  for (size_t i = 0; i < heads.groups.size(); ++i) {
    const prune::HeadGroup& h = heads.groups[i];
    layers.push_back({&scaled[groups.size() + i], prune::head_unit_params(h)});
    prune::ProbeLayer p{h.output, {}, &scaled[groups.size() + i]};
    for (int64_t u = 0; u < h.units(); ++u) p.channels.push_back(h.unit_channels({u}, h.heads(), 1));
    probes.push_back(std::move(p));
  }
  if (layers.empty()) return invalid_input("prune-structured: params found no prunable FFN or attention block");
  if (opts.values.probe == "split" && !layers.empty()) {
    if (!ctx.calib) return invalid_input("prune-structured: params needs a calibration set for its probes");
    EMBER_ASSIGN_OR_RETURN(const prune::ProbeMeter meter, prune::ProbeMeter::create(model, *ctx.calib, std::max<int64_t>(1, opts.values.probe_batches)));
    std::vector<prune::SplitLayer> split;
    for (size_t i = 0; i < layers.size(); ++i) split.push_back({probes[i], layers[i].unit_params, i >= groups.size()});
    EMBER_ASSIGN_OR_RETURN(const prune::SplitChoice choice, prune::search_split(meter, split, opts.values.params, opts.values.min_keep));
    for (size_t i = 0; i < choice.tried_kl.size(); ++i)
      ctx.remarks.note("prune-structured", "params split with " + std::to_string(choice.tried_heads[i]) + " heads: KL " +
                                               std::to_string(choice.tried_kl[i]) + " nats");
    apply_counts(choice.counts);
    return Status::Ok();
  }
  if (opts.values.probe_batches > 0 && !layers.empty()) {
    if (!ctx.calib) return invalid_input("prune-structured: params needs a calibration set for its probes");
    std::vector<std::vector<size_t>> sets(2);  // kind: neurons, heads
    for (size_t i = 0; i < probes.size(); ++i) {
      if (opts.values.probe == "layer") sets.push_back({i});
      else sets[i < groups.size() ? 0 : 1].push_back(i);
    }
    std::erase_if(sets, [](const std::vector<size_t>& s) { return s.empty(); });
    EMBER_ASSIGN_OR_RETURN(const prune::ProbeResult probed,
                           prune::calibrate_scores_by_probe(model, *ctx.calib, probes, sets, opts.values.params, opts.values.probe_batches));
    for (size_t i = 0; i < sets.size(); ++i)
      ctx.remarks.note("prune-structured", "probe of '" + probes[sets[i][0]].consumer.node + "' (" + std::to_string(sets[i].size()) +
                                               " layers): KL " + std::to_string(probed.loss[i]) + " nats, scores x " + std::to_string(probed.factor[i]));
  }
  apply_counts(prune::select_by_params(layers, opts.values.params, opts.values.min_keep));
  return Status::Ok();
}

// params=R with head-width: narrowing the heads removes its share of R's parameters first, and the
// FFN neurons take the rest, ranked by score per parameter (joint_selection.h) over the FFNs alone.
Status select_beside_head_width(const prune::HeadGroups& heads, const std::vector<FfnGroup>& groups,
                                const std::vector<std::vector<double>>& scores, const ParsedOptions& opts,
                                prune::NeuronSelection& selection) {
  int64_t total = 0, ffn_total = 0;
  std::vector<prune::BudgetLayer> layers;
  for (size_t i = 0; i < groups.size(); ++i) {
    layers.push_back({&scores[i], group_params(groups[i], 1)});
    ffn_total += groups[i].neurons * group_params(groups[i], 1);
  }
  total = ffn_total;
  for (const prune::HeadGroup& h : heads.groups) total += h.units() * prune::head_unit_params(h);
  const double rest = opts.values.params * static_cast<double>(total) -
                      static_cast<double>(prune::head_width_removed(heads, opts.values.head_width));
  if (rest <= 0 || ffn_total == 0) return Status::Ok();
  const std::vector<int64_t> counts = prune::select_by_params(layers, rest / static_cast<double>(ffn_total), opts.values.min_keep);
  for (size_t i = 0; i < groups.size(); ++i) prune::select_lowest(selection, scores, i, counts[i]);
  return Status::Ok();
}

// select=obs: the FFN keeps its count of removed neurons, chosen again by obs_selection.h on the
// consumer's canonical weight `w2` (not pruned yet) and its input moments `sigma`; the threshold
// becomes the highest score removed.
Status reselect_by_obs(const FfnGroup& g, const std::vector<float>& w2, const std::vector<double>& sigma,
                       const std::vector<double>& scores, double damp, std::vector<int64_t>& removed, double& threshold) {
  std::vector<std::vector<int64_t>> units(size_t(g.neurons));
  for (int64_t n = 0; n < g.neurons; ++n) units[size_t(n)] = {n};
  EMBER_ASSIGN_OR_RETURN(removed, prune::select_by_obs(w2, g.second.channels, g.neurons, sigma, units,
                                                       static_cast<int64_t>(removed.size()), damp));
  threshold = prune::highest_score(scores, removed);
  return Status::Ok();
}

// Keeps the rows (output channels) `kept` of a first layer's canonical [N, K] matrix.
void shrink_first_layer(ir::Graph& graph, const Layer& layer, const std::vector<int64_t>& kept) {
  Layer first = prune::current_layer(graph, layer);
  const std::vector<float> w1 = analysis::canonical_matrix(first, *graph.find_initializer(first.weight));
  std::vector<float> w1_kept;
  for (int64_t k : kept) w1_kept.insert(w1_kept.end(), w1.begin() + k * first.reduction, w1.begin() + (k + 1) * first.reduction);
  first.channels = static_cast<int64_t>(kept.size());
  first.shape = prune::stored_shape(first);
  graph.set_initializer(first.weight, analysis::from_canonical(first, w1_kept));
}

// The consumer's canonical weight [M, N] and bias [M] (or empty) as they are now in `graph`.
std::pair<std::vector<float>, std::vector<float>> consumer_weights(const ir::Graph& graph, const FfnGroup& g) {
  const Layer second = prune::current_layer(graph, g.second);
  std::vector<float> w2 = analysis::canonical_matrix(second, *graph.find_initializer(second.weight)), b2;
  if (const Tensor* b = second.bias.empty() ? nullptr : graph.find_initializer(second.bias))
    b2.assign(b->data<float>(), b->data<float>() + b->numel());
  return {std::move(w2), std::move(b2)};
}

// Removes the neurons not in `kept` from `g` in `graph` (a copy of the model's graph); the
// consumer gets `update`'s weight and bias.
Status prune_group(ir::Graph& graph, const FfnGroup& g, const std::vector<int64_t>& kept, const prune::ConsumerUpdate& update) {
  const int64_t n_kept = static_cast<int64_t>(kept.size());
  shrink_first_layer(graph, g.first, kept);
  for (const Layer& p : g.parallel) shrink_first_layer(graph, p, kept);  // a gated FFN's up projection
  for (const auto& name : g.per_channel) graph.set_initializer(name, prune::gather_last(*graph.find_initializer(name), kept));
  // Second layer: its canonical [M, N] matrix becomes update.weight [M, N'].
  Layer second = prune::current_layer(graph, g.second);
  second.reduction = n_kept;
  second.shape = prune::stored_shape(second);
  graph.set_initializer(second.weight, analysis::from_canonical(second, update.weight));
  if (!update.bias.empty())
    graph.set_initializer(second.bias, Tensor::from_vector<float>(graph.find_initializer(second.bias)->shape(), update.bias));
  const ValueReaders readers = value_readers(graph);
  for (size_t index : g.reshapes) {  // a shape constant shared with other Reshapes gets a copy of its own
    ir::Node& node = graph.nodes[index];
    Tensor shape = graph.find_initializer(node.inputs[1])->clone();
    shape.mutable_data<int64_t>()[shape.numel() - 1] = n_kept;
    if (readers.at(node.inputs[1]).size() > 1) node.inputs[1] = unique_name(graph, node.inputs[1] + "_pruned");
    graph.set_initializer(node.inputs[1], shape);
  }
  for (auto& info : graph.value_info)
    if (info.has_shape && !info.dims.empty() && info.dims.back().value == g.neurons &&
        std::find(g.values.begin(), g.values.end(), info.name) != g.values.end())
      info.dims.back().value = n_kept;
  return Status::Ok();
}

// Conv channel groups (conv_pruning.h) on the working copy, recorded in `result`.
Status prune_channels(const ir::Model& model, ir::Model& pruned, PassContext& ctx, const ParsedOptions& opts,
                      PruneResult& result) {
  prune::ChannelPruneOptions o;
  o.ratio = opts.values.channels;
  o.score = opts.score;
  o.global = opts.values.ranking == "global";
  o.min_keep = opts.values.min_keep;
  o.recovery = opts.recovery;
  o.damp = opts.values.damp;
  o.multiple = opts.values.multiple;
  o.group_ratios = opts.group_ratios;
  EMBER_ASSIGN_OR_RETURN(prune::ChannelPruneReport report, prune::prune_conv_channels(model, pruned, ctx, o));
  for (const auto& s : report.skipped)
    ctx.remarks.note("prune-structured", "channels of '" + s.layer + "' left alone: " + s.reason);
  for (const auto& g : report.groups)
    if (!g.remark.empty()) ctx.remarks.note("prune-structured", "channels of '" + g.producers + "' pruned jointly: " + g.remark);
  ctx.remarks.count("prune-structured", "channel-groups-pruned", static_cast<double>(report.groups.size()));
  ctx.remarks.count("prune-structured", "channels-removed", static_cast<double>(report.removed));
  result.channels = opts.values.channels;
  result.channel_groups = std::move(report.groups);
  result.channel_skipped = std::move(report.skipped);
  return Status::Ok();
}

}  // namespace

nlohmann::json PruneResult::to_json() const {
  nlohmann::json j = {{"ffn", ratio}, {"heads", heads}, {"params", params}, {"head_width", head_width}, {"score", score}, {"head_score", head_score}, {"ranking", ranking}, {"recovery", recovery}};
  j["layers"] = nlohmann::json::array();
  for (const auto& l : layers)
    j["layers"].push_back({{"node", l.node}, {"consumer", l.consumer}, {"units_before", l.units_before},
                           {"units_after", l.units_after}, {"params_before", l.params_before},
                           {"params_after", l.params_after}, {"macs_before", l.macs_before},
                           {"macs_after", l.macs_after}, {"threshold", l.threshold}, {"unit", l.unit}});
  j["skipped"] = nlohmann::json::array();
  for (const auto& s : skipped) j["skipped"].push_back({{"node", s.layer}, {"reason", s.reason}});
  j["channels"] = channels;
  j["channel_groups"] = prune::channel_groups_json(channel_groups);
  j["channel_skipped"] = nlohmann::json::array();
  for (const auto& s : channel_skipped) j["channel_skipped"].push_back({{"node", s.layer}, {"reason", s.reason}});
  j["model_macs_before"] = model_macs_before;
  j["model_macs_after"] = model_macs_after;
  return j;
}

std::vector<OptionSpec> PruneStructured::option_specs() { return option_table().specs(); }

Status PruneStructured::run(ir::Model& model, PassContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const ParsedOptions opts, parse(options_));
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerModel layers, analysis::build_layer_model(model.graph));
  prune::FfnGroups found = prune::find_ffn_groups(model.graph, layers);
  auto result = std::make_shared<PruneResult>();
  result->ratio = opts.values.ffn;
  result->heads = opts.values.heads;
  result->params = opts.values.params;
  result->head_width = opts.values.head_width;
  result->score = opts.values.score;
  result->head_score = opts.values.head_score;
  result->ranking = opts.values.ranking;
  result->recovery = opts.values.recovery;
  result->skipped = found.skipped;
  for (const auto& s : found.skipped) ctx.remarks.note(name(), "FFN layer '" + s.layer + "' left alone: " + s.reason);
  const bool channels_requested = options_.has("channels") || options_.has("channel-ratios");
  if (channels_requested && !options_.has("ffn")) found = {};  // channels alone leave the FFNs as they are
  if (found.groups.empty() && (opts.values.ffn > 0 || !opts.ffn_per_layer.empty())) {
    std::string why;
    for (const auto& s : found.skipped) why += "; '" + s.layer + "': " + s.reason;
    return invalid_input("prune-structured: no prunable FFN group (looked for MatMul/Gemm -> channel-wise activation "
                         "(ReLU, GELU, SiLU; or gated: two such layers multiplied) -> MatMul/Gemm whose weights nothing else reads)" + why);
  }
  // No neuron to remove (a head narrowing or head removal alone): the FFNs are left as they are,
  // unscored (gradient scores of every calibration row cost more than the narrowing itself).
  if (opts.values.ffn == 0 && opts.values.params == 0 && opts.ffn_per_layer.empty()) found.groups.clear();
  EMBER_TRY(score_first_rows(model, ctx, opts));
  EMBER_ASSIGN_OR_RETURN(const auto scores, prune::score_neurons(model, ctx, found.groups, opts.score));
  prune::NeuronSelection selection =
      prune::select_neurons(scores, opts.values.ffn, opts.values.ranking == "global", opts.values.min_keep);
  std::map<std::string, int64_t> head_counts = opts.heads_per_block;  // explicit counts win over the joint budget
  prune::HeadGroups head_blocks;  // head-width: the attention blocks, traced once for the budget and the narrowing
  if (opts.values.head_width > 0) {
    EMBER_ASSIGN_OR_RETURN(head_blocks, prune::find_model_head_groups(model, ctx));
  }
  if (opts.values.params > 0 && opts.values.head_width > 0) EMBER_TRY(select_beside_head_width(head_blocks, found.groups, scores, opts, selection));
  else if (opts.values.params > 0) EMBER_TRY(select_jointly(model, ctx, found.groups, scores, opts, selection, head_counts));
  EMBER_TRY(apply_per_layer_counts(found.groups, scores, opts.ffn_per_layer, selection));
  prune::round_kept_to_multiple(selection, scores, opts.values.multiple);
  std::shared_ptr<const analysis::LayerInputAnalysis::Output> inputs;
  const bool obs = opts.values.select == "obs";
  if ((obs || (opts.recovery != prune::Recovery::kNone && opts.recovery != prune::Recovery::kLsqSequential)) &&
      (opts.values.ffn > 0 || opts.values.params > 0 || !opts.ffn_per_layer.empty())) {
    analysis::LayerInputAnalysis::Options io;
    io.max_rows = opts.values.refit_rows;
    EMBER_ASSIGN_OR_RETURN(inputs, ctx.analyses.get<analysis::LayerInputAnalysis>(model, io));
  }
  ir::Model pruned = model;  // tensors are replaced, never written through: the original stays whole
  int64_t removed_total = 0;
  for (size_t i = 0; i < found.groups.size(); ++i) {
    const FfnGroup& g = found.groups[i];
    auto& removed = selection.removed[i];
    if (!removed.empty()) {
      const auto [w2, b2] = consumer_weights(pruned.graph, g);  // as in `model`: the groups share no layer
      std::vector<double> sigma;  // select=obs's input moments, reused by the lsq refit
      if (obs && inputs) {
        EMBER_ASSIGN_OR_RETURN(sigma, prune::obs_input_moments(*inputs, g.second.input, g.neurons, !b2.empty()));
        EMBER_TRY(reselect_by_obs(g, w2, sigma, scores[i], opts.values.select_damp, removed, selection.threshold[i]));
      }
      const std::vector<int64_t> kept = prune::kept_units(g.neurons, removed);
      auto refit = [&]() -> Result<prune::ConsumerUpdate> {
        if (opts.recovery == prune::Recovery::kLsqSequential) {
          if (!ctx.calib) return invalid_input("prune-structured: recovery=lsq-seq needs a calibration set");
          return prune::refit_on_pruned(model, pruned, *ctx.calib, g, w2, b2, kept, opts.values.damp, opts.values.refit_rows);
        }
        const analysis::LayerInputStats* stats = nullptr;
        if (inputs) {
          auto it = inputs->stats.find(g.second.input);
          if (it != inputs->stats.end()) stats = &it->second;
        }
        return prune::recover_consumer(w2, b2, g.second.channels, g.neurons, kept, removed, opts.recovery, stats,
                                       opts.values.damp, sigma.empty() ? nullptr : &sigma);
      };
      Result<prune::ConsumerUpdate> update = refit();
      sigma.clear(), sigma.shrink_to_fit();  // its N^2 doubles go before the edit (peak memory as before)
      if (!update.ok()) return update.status().with_context("consumer '" + g.second.node + "'");
      EMBER_TRY(prune_group(pruned.graph, g, kept, *update));
    }
    if (opts.recovery != prune::Recovery::kNone && !removed.empty() && g.second.bias.empty())
      ctx.remarks.note(name(), "'" + g.second.node + "' has no bias: " +
                                   (opts.recovery == prune::Recovery::kBias ? "nothing to compensate" : "refit without intercept"));
    const int64_t after = g.neurons - static_cast<int64_t>(removed.size());
    removed_total += static_cast<int64_t>(removed.size());
    result->layers.push_back({g.first.node, g.second.node, g.neurons, after, group_params(g, g.neurons),
                              group_params(g, after), g.neurons * (g.input_width() + g.second.channels),
                              after * (g.input_width() + g.second.channels), selection.threshold[i]});
  }
  if (opts.values.heads > 0 || !head_counts.empty()) {
    prune::HeadPruneOptions ho;
    ho.ratio = opts.values.heads, ho.score = opts.head_score, ho.recovery = opts.recovery;
    ho.global = opts.values.ranking == "global", ho.min_keep = opts.values.min_keep, ho.damp = opts.values.damp;
    ho.refit_rows = opts.values.refit_rows, ho.per_block = head_counts, ho.obs_select = opts.values.head_select == "obs", ho.obs_damp = opts.values.select_damp;
    EMBER_ASSIGN_OR_RETURN(prune::HeadPruneOutcome heads, prune::prune_heads(model, pruned, ctx, ho));
    for (const auto& s : heads.skipped) ctx.remarks.note(name(), "attention block '" + s.layer + "' left alone: " + s.reason);
    result->layers.insert(result->layers.end(), heads.layers.begin(), heads.layers.end());
    result->skipped.insert(result->skipped.end(), heads.skipped.begin(), heads.skipped.end());
    ctx.remarks.count(name(), "heads-removed", static_cast<double>(heads.removed));
  }
  if (opts.values.head_width > 0) {
    EMBER_ASSIGN_OR_RETURN(prune::HeadWidthOutcome narrowed, prune::narrow_model_heads(model, head_blocks, pruned, ctx, opts.values.head_width, opts.values.refit_rows, opts.recovery));
    for (const auto& s : narrowed.skipped) ctx.remarks.note(name(), "attention block '" + s.layer + "' left alone: " + s.reason);
    result->layers.insert(result->layers.end(), narrowed.layers.begin(), narrowed.layers.end());
    result->skipped.insert(result->skipped.end(), narrowed.skipped.begin(), narrowed.skipped.end());
    ctx.remarks.count(name(), "heads-narrowed", static_cast<double>(narrowed.layers.size()));
  }
  if (channels_requested) EMBER_TRY(prune_channels(model, pruned, ctx, opts, *result));
  if (ctx.calib && ctx.calib->num_batches() > 0) {
    EMBER_ASSIGN_OR_RETURN(result->model_macs_before, prune::model_macs(model, ctx.calib->batch(0)));
    EMBER_ASSIGN_OR_RETURN(result->model_macs_after, prune::model_macs(pruned, ctx.calib->batch(0)));
  }
  EMBER_TRY(ir::verify_model(pruned).with_context("prune-structured: the pruned graph"));
  model = std::move(pruned);
  ctx.remarks.count(name(), "groups-pruned", static_cast<double>(found.groups.size()));
  ctx.remarks.count(name(), "groups-skipped", static_cast<double>(found.skipped.size()));
  ctx.remarks.count(name(), "neurons-removed", static_cast<double>(removed_total));
  result_ = std::move(result);
  return Status::Ok();
}

}  // namespace ember::passes

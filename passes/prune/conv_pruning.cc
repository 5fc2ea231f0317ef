#include "passes/prune/conv_pruning.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "passes/analysis/importance.h"
#include "passes/prune/channel_units.h"
#include "passes/prune/conv_shrink.h"
#include "passes/prune/conv_stats.h"
#include "passes/prune/kept_rounding.h"
#include "passes/prune/neuron_selection.h"
#include "passes/prune/prune_edit.h"

namespace ember::passes::prune {
namespace {

using Stats = std::map<std::string, analysis::LayerInputStats>;
using Shapes = std::map<std::string, std::vector<int64_t>>;

// The value whose channels are the rows of producer or depthwise Conv `index`.
const std::string& row_value(const ir::Graph& graph, const ChannelGroup& g, size_t index) {
  const ir::Node& n = graph.nodes[index];
  return std::find(g.depthwise.begin(), g.depthwise.end(), index) != g.depthwise.end() ? n.inputs[0] : n.outputs[0];
}

// Sum of squares of each unit's rows in the producer and depthwise weights.
std::vector<double> producer_energy(const ir::Graph& graph, const ChannelGroup& g) {
  std::vector<double> out(size_t(g.channels), 0.0);
  auto add = [&](size_t index) {
    const Tensor& w = *graph.find_initializer(graph.nodes[index].inputs[1]);
    const std::vector<int64_t>& units = units_of(g, row_value(graph, g, index));
    const int64_t per = w.numel() / w.dim(0);
    for (int64_t c = 0; c < w.dim(0); ++c)
      if (units[size_t(c)] >= 0)
        for (int64_t i = 0; i < per; ++i) out[size_t(units[size_t(c)])] += double(w.data<float>()[c * per + i]) * w.data<float>()[c * per + i];
  };
  for (size_t p : g.producers) add(p);
  for (size_t d : g.depthwise) add(d);
  return out;
}

// Per channel, summed over consumers and the channel's columns j: f(column j of V, stats, j).
template <class F>
Result<std::vector<double>> consumer_sum(const ir::Graph& graph, const ChannelGroup& g, const Stats* stats, F f) {
  std::vector<double> out(size_t(g.channels), 0.0);
  for (const ChannelConsumer& c : g.consumers) {
    int64_t m = 0, cols = 0;
    const std::vector<float> w = consumer_canonical(graph, c, m, cols);
    const analysis::LayerInputStats* s = nullptr;
    if (stats) {
      auto it = stats->find(node_label(graph, c.node));
      if (it == stats->end()) return invalid_input("prune-structured: no statistics of '" + node_label(graph, c.node) + "'");
      s = &it->second;
    }
    const std::vector<int64_t>& units = units_of(g, c.channels);
    const std::vector<float> ms = s ? s->xtx->mean_square() : std::vector<float>();
    const std::vector<double> mu = s ? s->mean() : std::vector<double>();
    for (int64_t j = 0; j < cols; ++j) {
      double l1 = 0, l2 = 0;
      for (int64_t o = 0; o < m; ++o) l1 += std::fabs(w[size_t(o * cols + j)]), l2 += double(w[size_t(o * cols + j)]) * w[size_t(o * cols + j)];
      const double mean = s ? mu[size_t(j)] : 0, square = s ? ms[size_t(j)] : 0;
      const int64_t unit = units[size_t(j / c.spatial)];
      if (unit >= 0) out[size_t(unit)] += f(l1, l2, mean, square);
    }
  }
  return out;
}

Result<std::vector<std::vector<double>>> score_groups(const ir::Model& original, const ir::Graph& graph, PassContext& ctx,
                                                      const std::vector<ChannelGroup>& groups, NeuronScore score,
                                                      const Stats* stats) {
  std::vector<std::vector<double>> out;
  std::map<std::string, const analysis::TensorImportance*> by_name;
  std::shared_ptr<const analysis::ImportanceReport> report;
  if (needs_importance(score)) {
    EMBER_ASSIGN_OR_RETURN(report, ctx.analyses.find_or_get<analysis::ImportanceAnalysis>(original));
    for (const auto& t : report->tensors) by_name[t.name] = &t;
  }
  for (const ChannelGroup& g : groups) {
    std::vector<double> s(size_t(g.channels), 0.0);
    if (needs_importance(score)) {
      std::vector<size_t> convs = g.producers;
      convs.insert(convs.end(), g.depthwise.begin(), g.depthwise.end());
      for (size_t index : convs) {
        const std::string& weight = graph.nodes[index].inputs[1];
        auto it = by_name.find(weight);
        const auto* v = it == by_name.end() ? nullptr : ((score == NeuronScore::kFisher || score == NeuronScore::kFisherFirst) ? &it->second->groups.fisher : &it->second->groups.taylor);
        const std::vector<int64_t>& units = units_of(g, row_value(graph, g, index));
        if (!v || v->size() != units.size())
          return invalid_input("prune-structured: the importance analysis has no per-channel scores for '" + weight +
                               "' (score=magnitude needs no gradients)");
        for (size_t c = 0; c < units.size(); ++c)
          if (units[c] >= 0) s[size_t(units[c])] += (*v)[c];
      }
    } else if (score == NeuronScore::kMagnitude) {
      const std::vector<double> rows = producer_energy(graph, g);
      EMBER_ASSIGN_OR_RETURN(auto cols, consumer_sum(graph, g, nullptr, [](double, double l2, double, double) { return l2; }));
      for (int64_t c = 0; c < g.channels; ++c) s[size_t(c)] = std::sqrt(rows[size_t(c)] * cols[size_t(c)]);
    } else if (score == NeuronScore::kWanda) {
      EMBER_ASSIGN_OR_RETURN(s, consumer_sum(graph, g, stats, [](double l1, double, double, double sq) { return l1 * std::sqrt(sq); }));
    } else if (score == NeuronScore::kFluctuation) {
      EMBER_ASSIGN_OR_RETURN(s, consumer_sum(graph, g, stats, [](double, double l2, double mu, double sq) {
                               return std::max(0.0, sq - mu * mu) * l2;
                             }));
    } else {
      return invalid_input("prune-structured: score=obs is for FFN neurons; channels take taylor, fisher, magnitude, wanda or fluctuation");
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Parameters and MACs per image of the tensors of `g` with the units flagged in `removed_unit` gone.
void group_cost(const ir::Graph& graph, const Shapes& shapes, const ChannelGroup& g, const std::vector<bool>& removed_unit,
                int64_t& params, int64_t& macs) {
  params = 0, macs = 0;
  auto spatial = [&](const std::string& value) {
    auto it = shapes.find(value);
    if (it == shapes.end() || it->second.size() < 2) return int64_t{1};
    int64_t s = 1;
    for (size_t i = 2; i < it->second.size(); ++i) s *= it->second[i];
    return s;
  };
  auto kept = [&](const std::string& value) {
    return static_cast<int64_t>(kept_positions(units_of(g, value), removed_unit).size());
  };
  std::vector<size_t> convs = g.producers;
  convs.insert(convs.end(), g.depthwise.begin(), g.depthwise.end());
  for (size_t index : convs) {
    const ir::Node& n = graph.nodes[index];
    const Tensor& w = *graph.find_initializer(n.inputs[1]);
    const int64_t per = w.numel() / w.dim(0), rows = kept(row_value(graph, g, index));
    params += rows * (per + (n.has_input(2) ? 1 : 0));
    macs += rows * per * spatial(n.outputs[0]);
  }
  for (const ChannelConstant& c : g.constants) {
    const Tensor& t = *graph.find_initializer(c.name);
    params += t.numel() / t.dim(c.axis) * kept(c.value);
  }
  for (const ChannelConsumer& c : g.consumers) {
    const Tensor& w = *graph.find_initializer(c.weight);
    const int64_t per = w.numel() / static_cast<int64_t>(units_of(g, c.channels).size()), k = kept(c.channels);
    params += per * k;
    macs += per * k * (c.linear ? 1 : spatial(graph.nodes[c.node].outputs[0]));
  }
}

// The refit of every consumer of `g` for the kept channels.
Result<std::vector<ConsumerUpdate>> refit_consumers(const ir::Graph& graph, const ChannelGroup& g, const Stats* stats,
                                                    const std::vector<bool>& removed_unit, const ChannelPruneOptions& o) {
  std::vector<ConsumerUpdate> updates;
  const Recovery recovery = o.recovery == Recovery::kLsqSequential ? Recovery::kLsq : o.recovery;
  for (const ChannelConsumer& c : g.consumers) {
    int64_t m = 0, cols = 0;
    const std::vector<float> w = consumer_canonical(graph, c, m, cols);
    std::vector<float> bias;
    if (!c.bias.empty()) {
      const Tensor& b = *graph.find_initializer(c.bias);
      bias.assign(b.data<float>(), b.data<float>() + b.numel());
    } else if (!c.linear && recovery != Recovery::kNone) {
      bias.assign(size_t(m), 0.0f);  // a Conv gets a bias to carry the compensation
    }
    const analysis::LayerInputStats* s = nullptr;
    if (stats) {
      auto it = stats->find(node_label(graph, c.node));
      if (it != stats->end()) s = &it->second;
    }
    const std::vector<int64_t>& units = units_of(g, c.channels);
    Result<ConsumerUpdate> u = recover_consumer(w, bias, m, cols, channel_columns(kept_positions(units, removed_unit), c.spatial),
                                                channel_columns(removed_positions(units, removed_unit), c.spatial),
                                                recovery, s, o.damp);
    if (!u.ok()) return u.status().with_context("consumer '" + node_label(graph, c.node) + "'");
    if (c.bias.empty() && recovery == Recovery::kNone) u->bias.clear();
    updates.push_back(std::move(*u));
  }
  return updates;
}

// Every producer Conv keeps at least min-keep of its rows (at least one), like the group as a
// whole (neuron_selection.h): without it, one branch of a Concat could lose all its channels.
int64_t producer_floor(const std::vector<int64_t>& units, double min_keep) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(min_keep * static_cast<double>(units.size()))));
}

bool producers_keep_floor(const ir::Graph& graph, const ChannelGroup& g, double min_keep, const std::vector<int64_t>& removed) {
  const std::set<int64_t> gone(removed.begin(), removed.end());
  for (size_t p : g.producers) {
    const std::vector<int64_t>& units = units_of(g, graph.nodes[p].outputs[0]);
    const auto kept = std::count_if(units.begin(), units.end(), [&](int64_t u) { return u < 0 || !gone.count(u); });
    if (kept < producer_floor(units, min_keep)) return false;
  }
  return true;
}

// The highest-scoring removed units of a producer below its floor are given back.
void keep_producer_floor(const ir::Graph& graph, const ChannelGroup& g, const std::vector<double>& scores, double min_keep,
                         std::vector<int64_t>& removed) {
  for (size_t p : g.producers) {
    const std::vector<int64_t>& units = units_of(g, graph.nodes[p].outputs[0]);
    const int64_t floor = producer_floor(units, min_keep);
    for (;;) {
      const std::set<int64_t> gone(removed.begin(), removed.end());
      int64_t kept = 0, best = -1;
      for (int64_t u : units)
        if (u < 0 || !gone.count(u)) ++kept;
        else if (best < 0 || scores[size_t(u)] > scores[size_t(best)]) best = u;
      if (kept >= floor || best < 0) break;
      removed.erase(std::find(removed.begin(), removed.end(), best));
    }
  }
}

// A Concat group's producer floors first, then the kept count rounded to the multiple: where
// rounding down would take a producer below its floor, the count rounds up instead (giving
// units back keeps every floor). The threshold is the highest score finally removed.
void floor_and_round(const ir::Graph& graph, const ChannelGroup& g, const std::vector<double>& scores,
                     const ChannelPruneOptions& o, std::vector<int64_t>& removed, double& threshold) {
  const bool floors = !g.concats.empty();
  if (floors) keep_producer_floor(graph, g, scores, o.min_keep, removed);
  std::vector<int64_t> rounded = removed;
  round_layer_kept(rounded, threshold, scores, o.multiple);
  if (floors && !producers_keep_floor(graph, g, o.min_keep, rounded)) {
    rounded = removed;
    round_layer_kept(rounded, threshold, scores, o.multiple, KeptRounding::kUp);
  }
  removed = std::move(rounded);
  threshold = highest_score(scores, removed);
}

// Groups named in `o.group_ratios` lose their own fraction; the others share `o.ratio`.
Result<NeuronSelection> select_channels(const std::vector<std::vector<double>>& scores, const std::vector<ChannelGroup>& groups,
                                        const ir::Graph& graph, const ChannelPruneOptions& o) {
  std::vector<double> own(groups.size(), -1.0);
  std::set<std::string> used;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::vector<std::string> names = {groups[i].name};
    for (size_t p : groups[i].producers) names.push_back(node_label(graph, p));
    for (const auto& n : names)
      if (auto it = o.group_ratios.find(n); it != o.group_ratios.end()) own[i] = it->second, used.insert(n);
  }
  for (const auto& [name, r] : o.group_ratios)
    if (!used.count(name)) {
      std::string known;
      for (const auto& g : groups) known += (known.empty() ? "" : ", ") + g.name;
      return invalid_input("prune-structured: channel-ratios names '" + name + "', which is no prunable channel group (" + known + ")");
    }
  std::vector<size_t> shared;
  std::vector<std::vector<double>> shared_scores;
  NeuronSelection out;
  out.removed.resize(groups.size());
  out.threshold.assign(groups.size(), 0.0);
  for (size_t i = 0; i < groups.size(); ++i) {
    if (own[i] >= 0) {
      const NeuronSelection one = select_neurons({scores[i]}, own[i], false, o.min_keep);
      out.removed[i] = one.removed[0], out.threshold[i] = one.threshold[0];
    } else {
      shared.push_back(i), shared_scores.push_back(scores[i]);
    }
  }
  const NeuronSelection rest = select_neurons(shared_scores, o.ratio, o.global, o.min_keep);
  for (size_t k = 0; k < shared.size(); ++k) out.removed[shared[k]] = rest.removed[k], out.threshold[shared[k]] = rest.threshold[k];
  for (size_t i = 0; i < groups.size(); ++i) floor_and_round(graph, groups[i], scores[i], o, out.removed[i], out.threshold[i]);
  return out;
}

std::string consumer_names(const ir::Graph& graph, const ChannelGroup& g) {
  std::string out;
  for (const ChannelConsumer& c : g.consumers) out += (out.empty() ? "" : "+") + node_label(graph, c.node);
  return out;
}

}  // namespace

Result<std::map<std::string, double>> parse_group_ratios(const std::string& text) {
  std::map<std::string, double> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const size_t colon = item.rfind(':');
    double r = -1;
    if (colon == std::string::npos || colon == 0 || !parse_option_value(item.substr(colon + 1), r) || !(r >= 0 && r < 1))
      return invalid_input("prune-structured: channel-ratios entry '" + item + "' is not NAME:R with R in [0, 1)");
    out[item.substr(0, colon)] = r;
    start = end + 1;
  }
  return out;
}

nlohmann::json channel_groups_json(const std::vector<PrunedChannelGroup>& groups) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : groups)
    out.push_back({{"producers", g.producers}, {"consumers", g.consumers}, {"channels_before", g.channels_before},
                   {"channels_after", g.channels_after}, {"params_before", g.params_before}, {"params_after", g.params_after},
                   {"macs_before", g.macs_before}, {"macs_after", g.macs_after}, {"threshold", g.threshold},
                   {"remark", g.remark}});
  return out;
}

Result<ChannelPruneReport> prune_conv_channels(const ir::Model& original, ir::Model& pruned, PassContext& ctx,
                                               const ChannelPruneOptions& o) {
  if (!ctx.calib || ctx.calib->num_batches() == 0)
    return invalid_input("prune-structured: channels needs a calibration set (value shapes, scores and recovery)");
  EMBER_ASSIGN_OR_RETURN(const Shapes shapes, observe_shapes(pruned, ctx.calib->batch(0)));
  auto shape_of = [&](const std::string& v) -> std::optional<std::vector<int64_t>> {
    auto it = shapes.find(v);
    if (it == shapes.end()) return std::nullopt;
    return it->second;
  };
  ChannelGroups found = find_channel_groups(pruned.graph, shape_of);
  ChannelPruneReport report;
  report.skipped = found.skipped;
  if (found.groups.empty()) {
    std::string why;
    for (const auto& s : found.skipped) why += "; '" + s.layer + "': " + s.reason;
    return invalid_input("prune-structured: no prunable convolution channel group (looked for Conv -> BatchNormalization, "
                         "activations, pooling, depthwise Convs, residual Adds -> Conv, or Flatten -> Gemm/MatMul)" +
                         (why.empty() ? std::string("; the model has no Conv with a constant weight") : why));
  }
  const bool need_stats = (o.ratio > 0 || !o.group_ratios.empty()) && (o.recovery != Recovery::kNone || o.score == NeuronScore::kWanda ||
                                          o.score == NeuronScore::kFluctuation);
  Stats stats;
  if (need_stats) {
    std::vector<const ChannelGroup*> all;
    for (const ChannelGroup& g : found.groups) all.push_back(&g);
    EMBER_ASSIGN_OR_RETURN(stats, collect_consumer_stats(pruned, *ctx.calib, all, o.max_rows));
  }
  EMBER_ASSIGN_OR_RETURN(const auto scores, score_groups(original, pruned.graph, ctx, found.groups, o.score,
                                                         need_stats ? &stats : nullptr));
  EMBER_ASSIGN_OR_RETURN(const NeuronSelection selection, select_channels(scores, found.groups, pruned.graph, o));
  for (size_t i = 0; i < found.groups.size(); ++i) {
    const ChannelGroup& g = found.groups[i];
    const std::vector<int64_t>& removed = selection.removed[i];
    std::vector<bool> removed_unit(size_t(g.channels), false);
    for (int64_t u : removed) removed_unit[size_t(u)] = true;
    int64_t params = 0, macs = 0, params_after = 0, macs_after = 0;
    group_cost(pruned.graph, shapes, g, std::vector<bool>(size_t(g.channels), false), params, macs);
    group_cost(pruned.graph, shapes, g, removed_unit, params_after, macs_after);
    const int64_t after = g.channels - static_cast<int64_t>(removed.size());
    report.groups.push_back({g.name, consumer_names(pruned.graph, g), g.channels, after, params, params_after, macs,
                             macs_after, selection.threshold[i], g.remark});
    if (removed.empty()) continue;
    if (o.recovery == Recovery::kLsqSequential && i > 0) {  // re-measured after the groups before it were pruned
      EMBER_ASSIGN_OR_RETURN(Stats fresh, collect_consumer_stats(pruned, *ctx.calib, {&g}, o.max_rows));
      for (auto& [name, st] : fresh) stats[name] = std::move(st);
    }
    EMBER_ASSIGN_OR_RETURN(const auto updates, refit_consumers(pruned.graph, g, need_stats ? &stats : nullptr, removed_unit, o));
    EMBER_TRY(shrink_channel_group(pruned.graph, g, removed_unit, updates).with_context("channel group '" + g.name + "'"));
    report.removed += static_cast<int64_t>(removed.size());
  }
  return report;
}

}  // namespace ember::passes::prune

#include "passes/prune/head_pruning.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "passes/analysis/layer_inputs.h"
#include "passes/graph_edit.h"
#include "passes/prune/head_scores.h"
#include "passes/prune/neuron_selection.h"
#include "passes/prune/obs_selection.h"
#include "passes/prune/prune_edit.h"
#include "passes/prune/sequential_refit.h"
#include "runtime/interpreter.h"

namespace ember::passes::prune {
namespace {

using analysis::Layer;

// Every recorded head-count constant scaled to `kept` heads; a constant read elsewhere gets a copy.
Status scale_constants(ir::Graph& graph, const HeadGroup& g, int64_t kept) {
  EMBER_TRY(rewrite_head_constants(graph, g.edits, [&](int64_t v, const ConstEdit& e) -> Result<int64_t> {
    if (v % g.units() != 0) return internal_error("prune-structured: constant of node '" + graph.nodes[e.node].name + "' is not a multiple of the heads");
    return v / g.units() * kept;
  }));
  for (size_t index : g.split_attributes)
    for (auto& a : graph.nodes[index].attributes)
      if (a.name == "split")
        for (int64_t& v : a.ints) v = v / g.units() * kept;
  return Status::Ok();
}

// The output projection as an FFN group's consumer, for sequential_refit.h.
FfnGroup as_consumer_group(const HeadGroup& g) {
  FfnGroup f;
  f.second = g.output;
  f.neurons = g.output.reduction;
  return f;
}

// Parameters and multiply-adds per token of `units` heads (or GQA groups) of the block.
int64_t block_params(const HeadGroup& g, int64_t units) {
  int64_t p = units * (g.heads() / g.units()) * g.head_dim() * g.output.channels;
  for (const auto& proj : g.projections)
    p += proj.sections * units * (g.heads_of(proj) / g.units()) * g.head_dim() * (proj.layer.reduction + (proj.layer.bias.empty() ? 0 : 1));
  return p;
}

int64_t block_macs(const HeadGroup& g, int64_t units) {
  int64_t m = units * (g.heads() / g.units()) * g.head_dim() * g.output.channels;
  for (const auto& proj : g.projections) m += proj.sections * units * (g.heads_of(proj) / g.units()) * g.head_dim() * proj.layer.reduction;
  return m;
}

std::vector<std::vector<int64_t>> choose(const std::vector<std::vector<double>>& scores, const std::vector<HeadGroup>& groups,
                                         const HeadPruneOptions& o, std::vector<double>& threshold) {
  NeuronSelection sel = select_neurons(scores, o.ratio, o.global, o.min_keep);
  for (size_t i = 0; i < groups.size(); ++i) {
    auto it = o.per_block.find(groups[i].name());
    if (it != o.per_block.end()) select_lowest(sel, scores, i, it->second);
  }
  threshold = sel.threshold;
  return sel.removed;
}

// select=obs: the block keeps its count, its heads chosen again by obs_selection.h on the output
// projection's canonical weight `w` (not pruned yet) and its input moments `sigma`.
Result<std::vector<int64_t>> reselect_heads_by_obs(const HeadGroup& g, const std::vector<float>& w, const std::vector<double>& sigma,
                                                   int64_t count, double damp) {
  std::vector<std::vector<int64_t>> units;
  for (int64_t u = 0; u < g.units(); ++u) units.push_back(g.unit_channels({u}, g.heads(), 1));
  return select_by_obs(w, g.output.channels, g.output.reduction, sigma, units, count, damp);
}

}  // namespace

int64_t head_unit_params(const HeadGroup& g) { return block_params(g, 1); }

Result<std::map<std::string, int64_t>> parse_heads_per_block(const std::string& text) {
  return parse_unit_counts(text, "heads-per-block");
}

Result<HeadGroups> find_model_head_groups(const ir::Model& original, PassContext& ctx) {
  if (!ctx.calib || ctx.calib->num_batches() == 0)
    return invalid_input("prune-structured: heads needs a calibration set (the head layout is read from a forward pass)");
  std::map<std::string, Shape> shapes;
  {
    EMBER_ASSIGN_OR_RETURN(auto interp, runtime::Interpreter::create(original));
    runtime::ValueObserver observer = [&](const std::string& name, const Tensor& t) -> Status {
      shapes[name] = t.shape();
      return Status::Ok();
    };
    auto run = interp->run(ctx.calib->batch(0), observer);
    if (!run.ok()) return run.status().with_context("prune-structured: the forward pass that reads the head layout");
  }
  const analysis::ShapeLookup shape_of = [&](const std::string& name) -> std::optional<std::vector<int64_t>> {
    auto it = shapes.find(name);
    if (it == shapes.end()) return std::nullopt;
    return it->second;
  };
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerModel layers, analysis::build_layer_model(original.graph, shape_of));
  return find_head_groups(original.graph, layers, shape_of);
}

Status prune_head_group(ir::Graph& graph, const HeadGroup& g, const std::vector<int64_t>& kept,
                        const ConsumerUpdate& update) {
  const int64_t d = g.head_dim(), n_kept = static_cast<int64_t>(kept.size());
  for (const HeadProjection& p : g.projections) {
    Layer l = current_layer(graph, p.layer);
    if (l.channels != p.sections * g.heads_of(p) * d) return internal_error("prune-structured: '" + l.weight + "' changed shape");
    const std::vector<int64_t> channels = g.unit_channels(kept, g.heads_of(p), p.sections);
    const std::vector<float> w = analysis::canonical_matrix(l, *graph.find_initializer(l.weight));
    std::vector<float> rows;
    for (int64_t c : channels) rows.insert(rows.end(), w.begin() + c * l.reduction, w.begin() + (c + 1) * l.reduction);
    l.channels = static_cast<int64_t>(channels.size());
    l.shape = stored_shape(l);
    graph.set_initializer(l.weight, analysis::from_canonical(l, rows));
    if (!l.bias.empty()) graph.set_initializer(l.bias, gather_last(*graph.find_initializer(l.bias), channels));
  }
  for (const SectionedConstant& c : g.per_channel)
    graph.set_initializer(c.name, gather_last(*graph.find_initializer(c.name),
                                              g.unit_channels(kept, c.heads > 0 ? c.heads : g.heads(), c.sections)));
  Layer out = current_layer(graph, g.output);
  out.reduction = n_kept * (g.heads() / g.units()) * d;
  out.shape = stored_shape(out);
  if (update.weight.size() != size_t(out.channels * out.reduction))
    return internal_error("prune-structured: the refit of '" + out.node + "' has the wrong size");
  graph.set_initializer(out.weight, analysis::from_canonical(out, update.weight));
  if (!update.bias.empty())
    graph.set_initializer(out.bias, Tensor::from_vector<float>(graph.find_initializer(out.bias)->shape(), update.bias));
  EMBER_TRY(scale_constants(graph, g, n_kept));
  forget_dims(graph, g.values);
  return Status::Ok();
}

Result<HeadPruneOutcome> prune_heads(const ir::Model& original, ir::Model& pruned, PassContext& ctx,
                                     const HeadPruneOptions& o) {
  EMBER_ASSIGN_OR_RETURN(const HeadGroups found, find_model_head_groups(original, ctx));
  HeadPruneOutcome outcome;
  outcome.skipped = found.skipped;
  if (found.groups.empty()) {
    std::string why;
    for (const auto& s : found.skipped) why += "; '" + s.layer + "': " + s.reason;
    return invalid_input("prune-structured: no prunable attention heads (looked for Q/K/V projections, separate or fused, "
                         "split into heads by a Reshape and merged into one output projection)" + why);
  }
  for (const auto& [block, count] : o.per_block) {
    bool known = false;
    for (const HeadGroup& g : found.groups) known = known || g.name() == block;
    if (!known) return invalid_input("prune-structured: heads-per-block names '" + block + "', which is no prunable attention block");
  }
  EMBER_ASSIGN_OR_RETURN(const auto scores, score_heads(original, ctx, found.groups, o.score));
  std::vector<double> threshold;
  auto removed = choose(scores, found.groups, o, threshold);
  std::shared_ptr<const analysis::LayerInputAnalysis::Output> inputs;
  if (o.obs_select || o.recovery == Recovery::kBias || o.recovery == Recovery::kLsq) {
    analysis::LayerInputAnalysis::Options io;
    io.max_rows = o.refit_rows;
    EMBER_ASSIGN_OR_RETURN(inputs, ctx.analyses.get<analysis::LayerInputAnalysis>(original, io));
  }
  for (size_t i = 0; i < found.groups.size(); ++i) {
    const HeadGroup& g = found.groups[i];
    const int64_t H = g.units();
    if (!removed[i].empty()) {
      const Layer out = current_layer(pruned.graph, g.output);  // as in `original`: blocks and FFNs share no layer
      const std::vector<float> w = analysis::canonical_matrix(out, *pruned.graph.find_initializer(out.weight));
      std::vector<float> b;
      if (const Tensor* t = out.bias.empty() ? nullptr : pruned.graph.find_initializer(out.bias)) b.assign(t->data<float>(), t->data<float>() + t->numel());
      std::vector<double> sigma;  // select=obs's input moments, reused by the lsq refit
      if (o.obs_select) {
        EMBER_ASSIGN_OR_RETURN(sigma, obs_input_moments(*inputs, g.output.input, g.output.reduction, !b.empty()));
        EMBER_ASSIGN_OR_RETURN(removed[i], reselect_heads_by_obs(g, w, sigma, static_cast<int64_t>(removed[i].size()), o.obs_damp));
        threshold[i] = highest_score(scores[i], removed[i]);  // the highest score among the heads obs removed
      }
      const std::vector<int64_t> kept = kept_units(H, removed[i]);
      const std::vector<int64_t> keep_ch = g.unit_channels(kept, g.heads(), 1), drop_ch = g.unit_channels(removed[i], g.heads(), 1);
      Result<ConsumerUpdate> update = [&]() -> Result<ConsumerUpdate> {
        if (o.recovery == Recovery::kLsqSequential)
          return refit_on_pruned(original, pruned, *ctx.calib, as_consumer_group(g), w, b, keep_ch, o.damp, o.refit_rows);
        const analysis::LayerInputStats* stats = nullptr;
        if (inputs) {
          auto it = inputs->stats.find(g.output.input);
          if (it != inputs->stats.end()) stats = &it->second;
        }
        return recover_consumer(w, b, out.channels, g.output.reduction, keep_ch, drop_ch, o.recovery, stats, o.damp,
                                sigma.empty() ? nullptr : &sigma);
      }();
      sigma.clear(), sigma.shrink_to_fit();  // its N^2 doubles go before the edit (peak memory as before)
      if (!update.ok()) return update.status().with_context("output projection '" + g.output.node + "'");
      EMBER_TRY(prune_head_group(pruned.graph, g, kept, *update));
      outcome.removed += static_cast<int64_t>(removed[i].size());
    }
    const int64_t after = H - static_cast<int64_t>(removed[i].size());
    PrunedLayer row{g.name(), g.output.node, H, after, block_params(g, H), block_params(g, after),
                    block_macs(g, H), block_macs(g, after), threshold[i]};
    row.unit = g.grouped_query() ? "kv-groups" : "heads";  // GQA: a KV head with its query heads
    outcome.layers.push_back(row);
  }
  return outcome;
}

}  // namespace ember::passes::prune

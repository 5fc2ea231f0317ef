#include "passes/search/actions.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "passes/prune/ffn_groups.h"
#include "passes/prune/head_pruning.h"
#include "passes/search/layer_stage.h"
#include "passes/search/recipe_rules.h"

namespace ember::passes::search {
namespace {

// The recipe's actions for one layer: the defaults (or recipe.actions), then the overrides.
// GPTQ needs every reader to be a linear layer with an observed input; quantize-weights uses
// RTN for the others (embedding tables, tied heads, Conv), and so do their actions.
// Static INT8 activations where safe: a MatMul/Gemm layer read by one node (quantize-activations
// then names it alone), in the main graph, with INT8 per-channel symmetric weights.
Result<std::vector<LayerAction>> allowed_actions(const SearchLayer& layer, const std::string& op, const RecipeRules& rules,
                                                 const std::vector<LayerAction>& defaults, bool gptq_possible, bool static_safe,
                                                 bool offer_static) {
  // Overrides match with the recipe's hardened regexes (recipe_rules.h: hostile names and
  // patterns can neither hang nor overflow the matcher).
  const std::vector<LayerAction> actions = rules.for_layer(layer.node, layer.weight, op, defaults).actions;
  // Keep FP32 first, always allowed; pruning of layers without prunable units is not offered.
  std::vector<LayerAction> out = {LayerAction{}};
  for (LayerAction a : actions) {
    if (!gptq_possible && a.method == "gptq") a.method = "rtn";
    if (a.kind == LayerAction::Kind::kKeepFloat || a.kind == LayerAction::Kind::kPrune) continue;
    if (a.kind == LayerAction::Kind::kInt4 && a.block != 32 && a.block != 64 && a.block != 128)
      return invalid_input("an int4 action needs block 32, 64 or 128, got " + std::to_string(a.block));
    if (a.static_activations && (!static_safe || a.kind != LayerAction::Kind::kInt8 || a.block != 0 || !a.symmetric)) continue;
    bool seen = false;
    for (const auto& o : out) seen = seen || o == a;
    if (!seen) out.push_back(a);
  }
  if (offer_static && static_safe) {  // recipe.quantize_activations: each plain INT8 also with static activations
    const std::vector<LayerAction> listed = out;
    for (LayerAction a : listed) {
      if (a.kind != LayerAction::Kind::kInt8 || a.block != 0 || !a.symmetric || a.static_activations) continue;
      a.static_activations = true;
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
  }
  return out;
}

// The prune ratios the recipe lists for a layer (sorted, distinct).
std::set<double> listed_ratios(const SearchLayer& layer, const std::string& op, const RecipeRules& rules,
                               const std::vector<LayerAction>& defaults) {
  std::set<double> out;
  for (const auto& a : rules.for_layer(layer.node, layer.weight, op, defaults).actions)
    if (a.kind == LayerAction::Kind::kPrune && a.ratio > 0 && a.ratio < 1) out.insert(a.ratio);
  return out;
}

// Every precision action of `layer` once more with each ratio (FP32 becomes kPrune).
void add_pruned_actions(SearchLayer& layer, const std::set<double>& ratios) {
  const std::vector<LayerAction> precisions = layer.allowed;
  for (double r : ratios) {
    if (pruned_units(layer, r) == 0) continue;
    for (const LayerAction& a : precisions) layer.allowed.push_back(at_ratio(a, r));
  }
}

// Marks the two layers of every FFN group prune-structured can prune and gives them the ratios
// both allow. `ratios[i]` holds what the recipe lists for layers[i].
void attach_ffn_groups(const ir::Graph& graph, const analysis::LayerModel& model, std::vector<SearchLayer>& layers,
                       const std::vector<std::set<double>>& ratios) {
  std::map<std::string, size_t> by_weight;
  for (size_t i = 0; i < layers.size(); ++i) by_weight[layers[i].weight] = i;
  for (const prune::FfnGroup& g : prune::find_ffn_groups(graph, model).groups) {
    auto first = by_weight.find(g.first.weight), second = by_weight.find(g.second.weight);
    if (first == by_weight.end() || second == by_weight.end()) continue;
    std::set<double> both;
    for (double r : ratios[first->second])
      if (ratios[second->second].count(r)) both.insert(r);
    if (both.empty()) continue;
    for (auto [index, rows] : {std::pair{first->second, true}, std::pair{second->second, false}}) {
      layers[index].prune_group = g.first.node;
      layers[index].prune_units = g.neurons;
      layers[index].prune_rows = rows;
      add_pruned_actions(layers[index], both);
    }
  }
}

// The ratios every layer of `members` lists (`ratios[i]` for layers[i]).
std::set<double> common_ratios(const std::vector<size_t>& members, const std::vector<std::set<double>>& ratios) {
  std::set<double> out = ratios[members.front()];
  for (size_t m : members) std::erase_if(out, [&](double r) { return !ratios[m].count(r); });
  return out;
}

// Marks the projections and the output projection of every attention block prune-structured
// can remove heads from, with the ratios all of them allow. A block some of whose layers the
// search does not cover (too small, excluded by a blocker) is left alone.
void attach_head_groups(const std::vector<prune::HeadGroup>& groups, std::vector<SearchLayer>& layers,
                        const std::vector<std::set<double>>& ratios) {
  std::map<std::string, size_t> by_weight;
  for (size_t i = 0; i < layers.size(); ++i) by_weight[layers[i].weight] = i;
  for (const prune::HeadGroup& g : groups) {
    std::vector<std::pair<size_t, int64_t>> members;  // layer, channels (>0) or rows (<0) per unit
    for (const prune::HeadProjection& p : g.projections) {
      auto it = by_weight.find(p.layer.weight);
      if (it != by_weight.end()) members.push_back({it->second, p.sections * (g.heads_of(p) / g.units()) * g.head_dim()});
    }
    auto out = by_weight.find(g.output.weight);
    if (out != by_weight.end()) members.push_back({out->second, -(g.heads() / g.units()) * g.head_dim()});
    bool whole = members.size() == g.projections.size() + 1;
    for (const auto& [index, width] : members) whole = whole && layers[index].prune_group.empty();
    if (!whole || g.units() < 2) continue;
    std::vector<size_t> indices;
    for (const auto& m : members) indices.push_back(m.first);
    const std::set<double> allowed = common_ratios(indices, ratios);
    if (allowed.empty()) continue;
    for (const auto& [index, width] : members) {
      SearchLayer& l = layers[index];
      l.prune_group = g.name();
      l.prune_units = g.units();
      l.prune_rows = width > 0;
      l.prune_heads = true;
      l.prune_width = width > 0 ? width : -width;
      add_pruned_actions(l, allowed);
    }
  }
}

// The layer's shape after its FFN loses `ratio` of its neurons, or its attention block `ratio`
// of its heads.
SearchLayer pruned_shape(const SearchLayer& layer, double ratio) {
  SearchLayer out = layer;
  const int64_t removed = pruned_units(layer, ratio);
  if (layer.prune_width > 0) {
    (layer.prune_rows ? out.channels : out.reduction) -= removed * layer.prune_width;
  } else {
    const int64_t kept = layer.prune_units - removed;
    if (layer.prune_rows) out.channels = kept;
    else out.reduction = kept;
  }
  out.params = out.channels * out.reduction;
  return out;
}

}  // namespace

double prune_ratio(const LayerAction& a) { return a.kind == LayerAction::Kind::kKeepFloat ? 0 : a.ratio; }

LayerAction without_pruning(const LayerAction& a) {
  LayerAction out = a;
  out.ratio = 0;
  if (out.kind == LayerAction::Kind::kPrune) out.kind = LayerAction::Kind::kKeepFloat;
  return out;
}

LayerAction at_ratio(const LayerAction& action, double ratio) {
  LayerAction out = without_pruning(action);
  if (!(ratio > 0)) return out;
  if (out.kind == LayerAction::Kind::kKeepFloat) out.kind = LayerAction::Kind::kPrune;
  out.ratio = ratio;
  return out;
}

int64_t pruned_units(const SearchLayer& layer, double ratio) {
  if (layer.prune_units <= 0 || !(ratio > 0)) return 0;
  return std::clamp<int64_t>(std::llround(ratio * double(layer.prune_units)), 0, layer.prune_units - 1);
}

std::string stage_name(Stage stage) {
  switch (stage) {
    case Stage::kFfn: return "ffn";
    case Stage::kAttention: return "attention";
    case Stage::kEmbedding: return "embedding";
    case Stage::kHead: return "head";
    case Stage::kOther: return "other";
  }
  return "other";
}

std::string action_name(const LayerAction& a) {
  if (a.kind != LayerAction::Kind::kPrune && prune_ratio(a) > 0) {
    char text[32];
    std::snprintf(text, sizeof text, "+prune-%.2f", a.ratio);
    return action_name(without_pruning(a)) + text;
  }
  switch (a.kind) {
    case LayerAction::Kind::kKeepFloat: return "fp32";
    case LayerAction::Kind::kInt8:
      return (a.block > 0 ? "int8-b" + std::to_string(a.block) : "int8") + (a.symmetric ? "" : "-asym") + (a.static_activations ? "-a8-static" : "");
    case LayerAction::Kind::kInt4: return "int4-b" + std::to_string(a.block) + "-" + a.method + (a.symmetric ? "" : "-asym");
    case LayerAction::Kind::kPrune: {
      char text[32];
      std::snprintf(text, sizeof text, "prune-%.2f", a.ratio);
      return text;
    }
  }
  return "fp32";
}

bool is_aggressive(const LayerAction& a) {
  return prune_ratio(a) > 0 || (a.kind == LayerAction::Kind::kInt4 && a.block > 32);
}

double kept_share(const SearchLayer& layer, const LayerAction& a) {
  if (!(prune_ratio(a) > 0) || layer.prune_units <= 0 || layer.params <= 0) return 1.0;
  return double(pruned_shape(layer, a.ratio).params) / double(layer.params);
}

int64_t action_bytes(const SearchLayer& layer, const LayerAction& a) {
  if (prune_ratio(a) > 0 && layer.prune_units > 0) return action_bytes(pruned_shape(layer, a.ratio), without_pruning(a));
  const int64_t n = layer.params;
  switch (a.kind) {
    case LayerAction::Kind::kKeepFloat: return 4 * n;
    case LayerAction::Kind::kInt8: {  // zero points: one uint8 per scale
      const int64_t groups = a.block > 0 ? layer.channels * ((layer.reduction + a.block - 1) / a.block) : layer.channels;
      return n + 4 * groups + (a.symmetric ? 0 : groups);
    }
    case LayerAction::Kind::kInt4: {  // zero points: one uint4 per scale, two per byte
      const int64_t groups = layer.channels * ((layer.reduction + a.block - 1) / a.block);
      return (n + 1) / 2 + 4 * groups + (a.symmetric ? 0 : (groups + 1) / 2);
    }
    case LayerAction::Kind::kPrune: return 4 * n;  // a layer outside an FFN group: nothing removed
  }
  return 4 * n;
}

std::vector<LayerAction> default_precisions() {
  std::vector<LayerAction> actions = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8, 0, "rtn", 0}};
  for (bool symmetric : {true, false})
    for (int64_t block : {32, 64, 128}) actions.push_back({LayerAction::Kind::kInt4, block, "gptq", 0, symmetric});
  return actions;
}

std::vector<LayerAction> default_actions(const SearchTarget& target) {
  std::vector<LayerAction> actions = default_precisions();
  for (double ratio : default_prune_ratios(target)) actions.push_back({LayerAction::Kind::kPrune, 0, "rtn", ratio});
  return actions;
}

const std::vector<double>& default_prune_ratios(const SearchTarget& target) {
  static const std::vector<double> verified = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5};
  static const std::vector<double> predicted = {0.05, 0.1, 0.2, 0.3};
  return target.kind == SearchTarget::Kind::kNone ? verified : predicted;
}

// The MatMul / Gemm / Conv layers inside If, Loop and Scan bodies (analysis::build_body_layers):
// INT8 and INT4 (GPTQ for MatMul / Gemm: quantize-weights has their inputs' statistics over every
// run of the body), verified with the layers of no FFN or attention block, never pruned, never
// with static activations. Not under an energy or latency target: the energy model and the
// latency table time a layer by its main-graph readers, which a body layer has none of.
Status append_body_layers(const ir::Model& prepared, const RecipeRules& rules, const SearchRecipe& recipe,
                          const std::vector<LayerAction>& defaults, int64_t min_size, std::vector<SearchLayer>& out) {
  const SearchTarget::Kind target = recipe.target.kind;
  if (target == SearchTarget::Kind::kEnergyJoules || target == SearchTarget::Kind::kLatencySeconds) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const std::vector<analysis::Layer> body, analysis::build_body_layers(prepared.graph));
  for (const auto& l : body) {
    if (!l.blocker.empty() || !l.is_compute() || shape_numel(l.shape) < min_size) continue;
    SearchLayer s;
    s.weight = l.weight;
    s.node = l.node;
    s.op = l.op_types();
    s.params = shape_numel(l.shape);
    s.channels = l.channels;
    s.reduction = l.reduction;
    s.stage = Stage::kOther;
    EMBER_ASSIGN_OR_RETURN(s.allowed, allowed_actions(s, l.op, rules, defaults,
                                                      l.all_uses_linear() && l.op != "Conv", /*static_safe=*/false, recipe.quantize_activations));
    out.push_back(std::move(s));
  }
  return Status::Ok();
}

Result<std::vector<SearchLayer>> search_layers(const ir::Model& prepared, const SearchRecipe& recipe,
                                               const std::vector<std::string>& attention_weights, int64_t min_size) {
  return search_layers(prepared, recipe, attention_weights, {}, min_size);
}

Result<std::vector<SearchLayer>> search_layers(const ir::Model& prepared, const SearchRecipe& recipe,
                                               const std::vector<std::string>& attention_weights,
                                               const std::vector<prune::HeadGroup>& head_groups, int64_t min_size) {
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerModel model, analysis::build_layer_model(prepared.graph));
  EMBER_ASSIGN_OR_RETURN(const RecipeRules rules, RecipeRules::compile(recipe));
  const std::vector<LayerAction> defaults = default_actions(recipe.target);
  const std::set<std::string> attention(attention_weights.begin(), attention_weights.end());
  const std::map<std::string, Stage> stages = classify_stages(prepared.graph, model, attention);
  std::vector<SearchLayer> out;
  std::vector<std::set<double>> ratios;
  for (const auto& l : model.layers) {
    if (!l.blocker.empty() || shape_numel(l.shape) < min_size) continue;
    SearchLayer s;
    s.weight = l.weight;
    s.node = l.is_compute() ? l.node : prepared.graph.nodes[l.uses.front().node].name;
    s.op = l.op_types();
    s.params = shape_numel(l.shape);
    s.channels = l.channels;
    s.reduction = l.reduction;
    s.stage = stages.at(l.weight);
    const bool static_safe = l.uses.size() == 1 && l.all_uses_linear() && (l.op == "MatMul" || l.op == "Gemm");
    EMBER_ASSIGN_OR_RETURN(s.allowed, allowed_actions(s, l.op, rules, defaults, l.all_uses_linear() && l.op != "Conv", static_safe,
                                                      recipe.quantize_activations));
    ratios.push_back(listed_ratios(s, l.op, rules, defaults));  // an excluded layer lists none
    out.push_back(std::move(s));
  }
  attach_ffn_groups(prepared.graph, model, out, ratios);
  attach_head_groups(head_groups, out, ratios);
  EMBER_TRY(append_body_layers(prepared, rules, recipe, defaults, min_size, out));
  return out;
}

bool allows_pruning(const SearchRecipe& recipe) {
  bool pruning = false;
  for (const auto& a : recipe.actions.empty() ? default_actions() : recipe.actions) pruning = pruning || prune_ratio(a) > 0;
  for (const auto& o : recipe.overrides)
    for (const auto& a : o.actions) pruning = pruning || prune_ratio(a) > 0;
  return pruning;
}

std::vector<double> head_widths(const SearchRecipe& recipe) {
  std::vector<double> widths = recipe.head_widths.value_or(std::vector<double>{});
  if (!recipe.head_widths && recipe.target.kind == SearchTarget::Kind::kNone && allows_pruning(recipe)) widths = {0.25, 0.5, 0.75};
  std::sort(widths.begin(), widths.end());
  widths.erase(std::unique(widths.begin(), widths.end()), widths.end());
  return widths;
}

std::vector<prune::HeadGroup> prunable_head_groups(const ir::Model& prepared, const SearchRecipe& recipe, AnalysisManager& analyses) {
  if ((!allows_pruning(recipe) && head_widths(recipe).empty()) || !analyses.calib()) return {};
  Remarks remarks;
  PassContext ctx(analyses, remarks, nullptr);
  auto found = prune::find_model_head_groups(prepared, ctx);
  return found.ok() ? found->groups : std::vector<prune::HeadGroup>{};
}

}  // namespace ember::passes::search

#include "passes/search/actions.h"

#include <set>

#include "passes/search/layer_stage.h"
#include "passes/search/recipe_rules.h"

namespace ember::passes::search {
namespace {

// The recipe's actions for one layer: the defaults (or recipe.actions), then the overrides.
// GPTQ needs every reader to be a linear layer with an observed input; quantize-weights uses
// RTN for the others (embedding tables, tied heads, Conv), and so do their actions.
Result<std::vector<LayerAction>> allowed_actions(const SearchLayer& layer, const std::string& op, const RecipeRules& rules,
                                                 bool gptq_possible) {
  // Overrides match with the recipe's hardened regexes (recipe_rules.h: hostile names and
  // patterns can neither hang nor overflow the matcher).
  const std::vector<LayerAction> actions = rules.for_layer(layer.node, layer.weight, op, default_actions()).actions;
  // Keep FP32 first, always allowed; pruning of layers without prunable units is not offered.
  std::vector<LayerAction> out = {LayerAction{}};
  for (LayerAction a : actions) {
    if (!gptq_possible && a.method == "gptq") a.method = "rtn";
    if (a.kind == LayerAction::Kind::kKeepFloat || a.kind == LayerAction::Kind::kPrune) continue;
    if (a.kind == LayerAction::Kind::kInt4 && a.block != 32 && a.block != 64 && a.block != 128)
      return invalid_input("an int4 action needs block 32, 64 or 128, got " + std::to_string(a.block));
    bool seen = false;
    for (const auto& o : out) seen = seen || o == a;
    if (!seen) out.push_back(a);
  }
  return out;
}

}  // namespace

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
  switch (a.kind) {
    case LayerAction::Kind::kKeepFloat: return "fp32";
    case LayerAction::Kind::kInt8: return (a.block > 0 ? "int8-b" + std::to_string(a.block) : "int8") + (a.symmetric ? "" : "-asym");
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
  return a.kind == LayerAction::Kind::kPrune || (a.kind == LayerAction::Kind::kInt4 && a.block > 32);
}

int64_t action_bytes(const SearchLayer& layer, const LayerAction& a) {
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
    case LayerAction::Kind::kPrune: return static_cast<int64_t>(4.0 * double(n) * (1.0 - a.ratio));
  }
  return 4 * n;
}

std::vector<LayerAction> default_actions() {
  std::vector<LayerAction> actions = {LayerAction{}, LayerAction{LayerAction::Kind::kInt8, 0, "rtn", 0}};
  for (bool symmetric : {true, false})
    for (int64_t block : {32, 64, 128}) actions.push_back({LayerAction::Kind::kInt4, block, "gptq", 0, symmetric});
  return actions;
}

Result<std::vector<SearchLayer>> search_layers(const ir::Model& prepared, const SearchRecipe& recipe,
                                               const std::vector<std::string>& attention_weights, int64_t min_size) {
  EMBER_ASSIGN_OR_RETURN(const analysis::LayerModel model, analysis::build_layer_model(prepared.graph));
  EMBER_ASSIGN_OR_RETURN(const RecipeRules rules, RecipeRules::compile(recipe));
  const std::set<std::string> attention(attention_weights.begin(), attention_weights.end());
  const std::map<std::string, Stage> stages = classify_stages(prepared.graph, model, attention);
  std::vector<SearchLayer> out;
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
    EMBER_ASSIGN_OR_RETURN(s.allowed, allowed_actions(s, l.op, rules, l.all_uses_linear() && l.op != "Conv"));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ember::passes::search

#include "passes/search/recipe_rules.h"

namespace ember::passes {
namespace {

bool name_matches(const std::regex& regex, const std::string& name) {
  return !name.empty() && name.size() <= kMaxMatchedName && std::regex_search(name, regex);
}

}  // namespace

Result<RecipeRules> RecipeRules::compile(const SearchRecipe& recipe) {
  RecipeRules rules;
  rules.actions_ = recipe.actions;
  for (size_t i = 0; i < recipe.overrides.size(); ++i) {
    Rule rule;
    rule.spec = recipe.overrides[i];
    if (!rule.spec.name_regex.empty()) {
      try {
        rule.regex = std::regex(rule.spec.name_regex, kLayerRegexFlags);
        rule.has_regex = true;
      } catch (const std::exception& e) {
        return invalid_input("recipe rule " + std::to_string(i) + ": invalid regular expression '" + rule.spec.name_regex +
                             "': " + e.what());
      }
    }
    rules.rules_.push_back(std::move(rule));
  }
  return rules;
}

LayerRules RecipeRules::for_layer(const std::string& node_name, const std::string& weight_name, const std::string& op_type,
                                  const std::vector<LayerAction>& default_actions) const {
  LayerRules out;
  out.actions = actions_.empty() ? default_actions : actions_;
  for (const Rule& rule : rules_) {
    if (!rule.spec.op_type.empty() && rule.spec.op_type != op_type) continue;
    if (rule.has_regex && !name_matches(rule.regex, node_name) && !name_matches(rule.regex, weight_name)) continue;
    out.excluded = rule.spec.exclude;
    out.actions = rule.spec.exclude ? std::vector<LayerAction>{LayerAction{}} : rule.spec.actions;
  }
  return out;
}

}  // namespace ember::passes

// Which actions a recipe allows for one layer (passes/search/search_recipe.h):
//   start from the recipe's `actions` (or the search's defaults when it lists none);
//   then each override that matches the layer, in order, replaces them (the last match wins):
//   an excluding rule leaves FP32 only, another rule its own actions.
// A rule matches when its op type (if any) equals the layer's and its name regex (if any) is
// found (std::regex_search, ECMAScript) in the layer's node name or its weight's name. A name of
// more than kMaxMatchedName bytes never matches a name rule: libstdc++'s matcher recurses once
// per character, so a hostile node name could otherwise exhaust the stack.
#pragma once
#include <cstddef>
#include <regex>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/search/search_recipe.h"

namespace ember::passes {

inline constexpr size_t kMaxMatchedName = 4096;

struct LayerRules {
  bool excluded = false;            // true: FP32 only
  std::vector<LayerAction> actions; // the actions allowed (excluded: just kKeepFloat)
};

class RecipeRules {
 public:
  // Compiles the overrides' regexes (invalid_input naming the rule when one does not compile;
  // parse_recipe has already refused those, so this fails only for a recipe built in code).
  static Result<RecipeRules> compile(const SearchRecipe& recipe);

  LayerRules for_layer(const std::string& node_name, const std::string& weight_name, const std::string& op_type,
                       const std::vector<LayerAction>& default_actions) const;

 private:
  struct Rule {
    LayerOverride spec;
    bool has_regex = false;
    std::regex regex;
  };
  std::vector<LayerAction> actions_;
  std::vector<Rule> rules_;
};

}  // namespace ember::passes

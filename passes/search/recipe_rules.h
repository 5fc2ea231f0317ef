// Which actions a recipe allows for one layer (passes/search/search_recipe.h):
//   start from the recipe's `actions` (or the search's defaults when it lists none);
//   then each override that matches the layer, in order, replaces them (the last match wins):
//   an excluding rule leaves FP32 only, another rule its own actions.
// A rule matches when its op type (if any) equals the layer's and its name regex (if any) is
// found (std::regex_search, ECMAScript) in the layer's node name or its weight's name.
// Both the regex and the names are hostile input. libstdc++'s default matcher backtracks: "(a*)*b"
// against a name of 18 'a's runs for minutes, and it recurses once per character. So layer
// regexes are matched by its polynomial (Thompson NFA) executor, which refuses back-references
// (layer names never need them), and a name of more than kMaxMatchedName bytes never matches a
// name rule (worst case about 0.2 s for a hostile pattern on a 1 KB name).
#pragma once
#include <cstddef>
#include <regex>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/search/search_recipe.h"

namespace ember::passes {

inline constexpr size_t kMaxMatchedName = 1024;

// How every layer regex is compiled (parse_recipe checks with the same flags).
inline constexpr std::regex_constants::syntax_option_type kLayerRegexFlags = std::regex_constants::ECMAScript
#ifdef __GLIBCXX__
    | std::regex_constants::__polynomial
#endif
    ;

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

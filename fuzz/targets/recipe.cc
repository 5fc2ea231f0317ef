// Fuzz target: the recipe reader of `ember compress --recipe` (JSON parsing, the schema
// validation, the semantic checks and regex compilation), the canonical form of what it
// accepts, which must read back to the same recipe, and its rules matched against layer names
// (a hostile regex must not backtrack for long: libFuzzer's -timeout reports a slow input).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "passes/search/recipe_json.h"
#include "passes/search/recipe_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > ember::passes::kMaxRecipeBytes) return 0;  // the file reader refuses these before parsing
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto recipe = ember::passes::parse_recipe(text, "fuzz.json");
  if (!recipe.ok()) return 0;
  const auto canonical = ember::passes::recipe_to_json(*recipe);
  auto again = ember::passes::parse_recipe(canonical.dump(), "canonical.json");
  if (!again.ok() || ember::passes::recipe_to_json(*again) != canonical) std::abort();
  auto rules = ember::passes::RecipeRules::compile(*recipe);
  if (!rules.ok()) std::abort();  // parse_recipe compiled every regex already
  static const std::string kNames[] = {"/h.0/attn/c_attn/MatMul", "m.lm_head.weight", std::string(256, 'a') + "c",
                                       std::string(ember::passes::kMaxMatchedName, 'x')};
  for (const auto& name : kNames) (void)rules->for_layer(name, name, "MatMul", {});
  return 0;
}

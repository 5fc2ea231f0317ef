// Fuzz target: the recipe reader of `ember compress --recipe` (JSON parsing, the schema
// validation, the semantic checks and regex compilation), and the canonical form of what it
// accepts, which must read back to the same recipe.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "passes/search/recipe_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > ember::passes::kMaxRecipeBytes) return 0;  // the file reader refuses these before parsing
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto recipe = ember::passes::parse_recipe(text, "fuzz.json");
  if (!recipe.ok()) return 0;
  const auto canonical = ember::passes::recipe_to_json(*recipe);
  auto again = ember::passes::parse_recipe(canonical.dump(), "canonical.json");
  if (!again.ok() || ember::passes::recipe_to_json(*again) != canonical) std::abort();
  return 0;
}

// schemas/recipe.schema.json, compiled into the library (CMake generates the definition from the
// file at build time), so `ember compress --recipe` validates without finding the source tree.
#pragma once
#include <string_view>

namespace ember::passes {

std::string_view recipe_schema_text();

}  // namespace ember::passes

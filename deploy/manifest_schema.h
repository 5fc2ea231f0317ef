// schemas/manifest.schema.json, compiled into the library (CMake generates the definition from
// the file at build time), so ember-rt validates manifests without finding the source tree.
#pragma once
#include <string_view>

namespace ember::deploy {

std::string_view manifest_schema_text();

}  // namespace ember::deploy

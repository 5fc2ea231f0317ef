// Bounding the nesting of JSON text before it is parsed. Parsing itself is iterative, but the
// code that prints or walks a parsed value recurses once per level, so a document of a million
// '[' would exhaust the stack there. Manifests and inference requests nest a few levels.
#pragma once
#include <string_view>

#include "ir/status.h"

namespace ember::formats {

// invalid_input "JSON nests deeper than N levels" when brackets outside strings open more
// than `max_depth` levels; the text need not be valid JSON.
Status check_json_depth(std::string_view text, int max_depth);

}  // namespace ember::formats

// A JSON Schema validator for the subset Ember's schemas use (draft 2020-12 keywords): type,
// const, enum, required, properties, additionalProperties, items, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, minItems, maxItems. An
// unknown keyword is an error, so a schema can never silently check less than it says. Used by
// ember-rt's manifest checks (deploy/) and by the recipe reader (passes/search/).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "ir/status.h"

namespace ember::formats {

// ok, or invalid_input naming the first failing location ("/quality/budget_met: expected
// boolean, got string").
Status validate_json(const nlohmann::json& value, const nlohmann::json& schema);

}  // namespace ember::formats

// The importance report as JSON (schemas/importance.schema.json).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "passes/analysis/importance.h"

namespace ember::passes::analysis {

nlohmann::json importance_to_json(const ImportanceReport& report, const std::string& model_path);

}  // namespace ember::passes::analysis

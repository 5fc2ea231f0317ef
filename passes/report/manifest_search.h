// The manifest's `search` section (schemas/manifest.schema.json): what the search targeted and
// achieved, how much of the budget it used, the action chosen per layer with the predicted loss
// of every allowed action, every candidate measured (with the size/quality Pareto front) and the
// stages. Deterministic: no timings (those go to DIR/timings.json).
#pragma once
#include <nlohmann/json.hpp>

#include "passes/search/compress.h"

namespace ember::passes {

// Null when the search did not run (the uniform ladder).
nlohmann::json search_section(const CompressResult& result);
// report.md's lines about the search (empty when it did not run).
std::string search_report_lines(const CompressResult& result);

}  // namespace ember::passes

// The recipe file of `ember compress --recipe R.json` (schemas/recipe.schema.json): JSON in,
// a SearchRecipe out, and back. Example (samples/recipe-kjv-gpt2.json):
//   {"schema": "ember.recipe/1", "target": {"size": "3MB"}, "budget": {"metric": "kl", "allowed": 0.05},
//    "actions": [{"kind": "int8"}, {"kind": "int4", "block": 32, "method": "gptq"}],
//    "overrides": [{"name": "attn", "actions": [{"kind": "int8"}]}], "exclude": [{"op": "Gather"}],
//    "calib": {"limit": 256, "holdout_rows": 32}, "eval": {"limit": 64}}
// The file is hostile input: its size is checked before it is read, only a regular file is
// opened (non-blocking: a FIFO never hangs), it is validated against the schema compiled into
// the binary, and then checked for what a schema cannot say (one target, which keys each action
// kind takes, regexes that compile, a budget the metric can take). Every error is invalid_input
// naming the file and the JSON path ("recipe 'r.json': /overrides/1/name: invalid regular
// expression ..."). A recipe names no files, so it can never lead a read outside its folder.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "ir/status.h"
#include "passes/search/search_recipe.h"

namespace ember::passes {

// Larger recipe files are refused before they are read.
inline constexpr uint64_t kMaxRecipeBytes = uint64_t{1} << 20;

// `source_name` names the text in messages (the file name, or "--recipe").
Result<SearchRecipe> parse_recipe(const std::string& json_text, const std::string& source_name);

// Reads and parses a recipe file (see above).
Result<SearchRecipe> read_recipe_file(const std::string& path);

// The canonical JSON form (schema-valid; parse_recipe gives the same recipe back). Sizes are
// written in bytes, energy in joules, latency in seconds.
nlohmann::json recipe_to_json(const SearchRecipe& recipe);

// Quantities with units, as the recipe and the CLI shorthands write them: "3MB" (powers of
// 1000; KiB, MiB, GiB powers of 1024; B or no unit: bytes) -> bytes; "5mJ" -> joules;
// "20ms" -> seconds. `what` names the value in messages.
Result<double> parse_size_bytes(const std::string& text, const std::string& what);
Result<double> parse_energy_joules(const std::string& text, const std::string& what);
Result<double> parse_latency_seconds(const std::string& text, const std::string& what);

// The recipe's text form of an action ("fp32", "int8", "int4-b32-gptq", "prune-0.25"), used by
// messages and the report.
std::string action_name(const LayerAction& action);

}  // namespace ember::passes

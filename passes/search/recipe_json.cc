#include "passes/search/recipe_json.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <regex>
#include <utility>
#include <vector>

#include "formats/input_file.h"
#include "formats/json_schema.h"
#include "passes/search/recipe_rules.h"
#include "passes/search/recipe_schema.h"

namespace ember::passes {
namespace {

using json = nlohmann::json;

// A number followed by an optional space and a unit of `units` (name, factor). The schema's
// pattern already shaped the text; this still checks, since the helpers serve the CLI too.
Result<double> parse_quantity(const std::string& text, const std::vector<std::pair<std::string, double>>& units,
                              bool unit_optional, const std::string& what) {
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [rest, err] = std::from_chars(begin, end, value, std::chars_format::fixed);
  if (err != std::errc() || rest == begin || *begin == '-' || !std::isfinite(value))
    return invalid_input(what + ": '" + text + "' is not a number with a unit");
  std::string unit(rest, end);
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  if (unit.empty() && unit_optional) return value;
  for (const auto& [name, factor] : units)
    if (unit == name) return value * factor;
  std::string known;
  for (const auto& u : units) known += (known.empty() ? "" : ", ") + u.first;
  return invalid_input(what + ": unknown unit '" + unit + "' in '" + text + "' (use " + known + ")");
}

Status at(const std::string& path, const std::string& what) { return invalid_input(path + ": " + what); }

// A quantity given as a number (already in the base unit) or as a string with a unit, at most
// `max` (the schema's maximum, which only bounds the number form).
Result<double> quantity(const json& v, Result<double> (*parse)(const std::string&, const std::string&), double max,
                        const std::string& path) {
  double value = 0;
  if (v.is_string()) {
    EMBER_ASSIGN_OR_RETURN(value, parse(v.get<std::string>(), path));
  } else {
    value = v.get<double>();
  }
  if (!(value > 0) || !std::isfinite(value)) return at(path, "must be above 0");
  if (value > max) return at(path, "'" + v.get<std::string>() + "' is above the maximum " + json(max).dump());
  return value;
}

Result<SearchTarget> read_target(const json& t) {
  if (t.size() > 1) return at("/target", "give one target (size, bpw, energy or latency), not " + std::to_string(t.size()));
  SearchTarget target;
  if (t.contains("size")) {
    target.kind = SearchTarget::Kind::kSizeBytes;
    EMBER_ASSIGN_OR_RETURN(target.value, quantity(t["size"], parse_size_bytes, 1e15, "/target/size"));
    target.value = std::floor(target.value);
    if (target.value < 1) return at("/target/size", "is below one byte");
  } else if (t.contains("bpw")) {
    target.kind = SearchTarget::Kind::kBitsPerWeight;
    target.value = t["bpw"].get<double>();
  } else if (t.contains("energy")) {
    target.kind = SearchTarget::Kind::kEnergyJoules;
    EMBER_ASSIGN_OR_RETURN(target.value, quantity(t["energy"], parse_energy_joules, 1e6, "/target/energy"));
  } else if (t.contains("latency")) {
    target.kind = SearchTarget::Kind::kLatencySeconds;
    EMBER_ASSIGN_OR_RETURN(target.value, quantity(t["latency"], parse_latency_seconds, 1e6, "/target/latency"));
  }
  return target;
}

Result<SearchBudget> read_budget(const json& b) {
  SearchBudget budget;
  if (b.contains("metric")) budget.metric = b["metric"].get<std::string>();
  if (b.contains("allowed")) {
    const double allowed = b["allowed"].get<double>();
    const bool share = budget.metric == "accuracy" || budget.metric == "top1" || budget.metric == "cosine" ||
                       budget.metric == "bits_per_byte" || budget.metric == "expected-accuracy";
    if (share && allowed > 1)
      return at("/budget/allowed", std::to_string(allowed) + " is more than " + budget.metric + " can lose (at most 1)");
    budget.allowed = allowed;
  }
  return budget;
}

Result<LayerAction> read_action(const json& a, const std::string& path) {
  const std::string kind = a["kind"].get<std::string>();
  LayerAction action;
  const bool int4 = kind == "int4", prune = kind == "prune";
  if (!int4 && a.contains("block")) return at(path + "/block", "only an int4 action takes a block");
  if (!int4 && a.contains("method")) return at(path + "/method", "only an int4 action takes a method");
  if (!prune && a.contains("ratio")) return at(path + "/ratio", "only a prune action takes a ratio");
  if (kind != "int8" && a.contains("activations")) return at(path + "/activations", "only an int8 action takes activations");
  if (kind == "fp32") {
    action.kind = LayerAction::Kind::kKeepFloat;
  } else if (kind == "int8") {
    action.kind = LayerAction::Kind::kInt8;
    action.static_activations = a.value("activations", std::string("weights-only")) == "static";
  } else if (int4) {
    action.kind = LayerAction::Kind::kInt4;
    if (!a.contains("block")) return at(path, "an int4 action needs a block (32, 64 or 128)");
    action.block = a["block"].get<int64_t>();
    if (a.contains("method")) action.method = a["method"].get<std::string>();
  } else {
    action.kind = LayerAction::Kind::kPrune;
    if (!a.contains("ratio")) return at(path, "a prune action needs a ratio in (0, 1)");
    action.ratio = a["ratio"].get<double>();
  }
  return action;
}

Result<std::vector<LayerAction>> read_actions(const json& list, const std::string& path) {
  std::vector<LayerAction> actions;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string item = path + "/" + std::to_string(i);
    EMBER_ASSIGN_OR_RETURN(LayerAction action, read_action(list[i], item));
    for (size_t j = 0; j < actions.size(); ++j)
      if (actions[j] == action) return at(item, "repeats " + path + "/" + std::to_string(j) + " (" + action_name(action) + ")");
    actions.push_back(action);
  }
  return actions;
}

// libstdc++ reads a repetition count or a back-reference number into a long without an
// overflow check (undefined behaviour, found by fuzz_recipe): refuse long ones before compiling.
Status check_regex_numbers(const std::string& pattern, const std::string& path) {
  bool in_braces = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    size_t start = std::string::npos;
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      if (!std::isdigit(static_cast<unsigned char>(pattern[i + 1]))) {
        ++i;  // an escaped character, e.g. "\\" or "\{"
        continue;
      }
      start = i + 1;
    } else if (c == '{') {
      in_braces = true;
      start = i + 1;
    } else if (c == '}') {
      in_braces = false;
    } else if (c == ',' && in_braces) {
      start = i + 1;
    }
    if (start == std::string::npos) continue;
    size_t end = start;
    while (end < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[end]))) ++end;
    if (end - start > 6)
      return at(path, "regular expression '" + pattern + "' has a repetition count or back-reference of more than 6 digits");
  }
  return Status::Ok();
}

// A rule's name regex must compile (ECMAScript, as std::regex and the search match it).
// libstdc++ bounds the automaton it builds (error_space), so a hostile pattern fails here.
Status check_regex(const std::string& pattern, const std::string& path) {
  EMBER_TRY(check_regex_numbers(pattern, path));
  try {
    std::regex compiled(pattern, kLayerRegexFlags);
    (void)compiled;
  } catch (const std::regex_error& e) {
    return at(path, "invalid regular expression '" + pattern + "': " + e.what());
  } catch (const std::exception& e) {
    return at(path, "regular expression '" + pattern + "' is too complex: " + e.what());
  }
  return Status::Ok();
}

Result<LayerOverride> read_rule(const json& r, const std::string& path, bool is_exclude) {
  LayerOverride rule;
  if (!r.contains("name") && !r.contains("op")) return at(path, "a rule needs a name regex, an op type or both");
  if (r.contains("name")) {
    rule.name_regex = r["name"].get<std::string>();
    EMBER_TRY(check_regex(rule.name_regex, path + "/name"));
  }
  if (r.contains("op")) rule.op_type = r["op"].get<std::string>();
  rule.exclude = is_exclude || r.value("exclude", false);
  if (r.contains("actions")) {
    if (rule.exclude) return at(path, "an excluded layer keeps FP32: give 'exclude' or 'actions', not both");
    EMBER_ASSIGN_OR_RETURN(rule.actions, read_actions(r["actions"], path + "/actions"));
  }
  if (!rule.exclude && rule.actions.empty()) return at(path, "the rule does nothing: give \"exclude\": true or actions");
  return rule;
}

Result<SearchRecipe> read_recipe(const json& j) {
  SearchRecipe recipe;
  if (j.contains("target")) {
    EMBER_ASSIGN_OR_RETURN(recipe.target, read_target(j["target"]));
  }
  if (j.contains("budget")) {
    EMBER_ASSIGN_OR_RETURN(recipe.budget, read_budget(j["budget"]));
  }
  if (j.contains("actions")) {
    EMBER_ASSIGN_OR_RETURN(recipe.actions, read_actions(j["actions"], "/actions"));
  }
  for (const char* list : {"overrides", "exclude"}) {
    if (!j.contains(list)) continue;
    const json& rules = j[list];
    for (size_t i = 0; i < rules.size(); ++i) {
      EMBER_ASSIGN_OR_RETURN(LayerOverride rule,
                             read_rule(rules[i], "/" + std::string(list) + "/" + std::to_string(i), list[0] == 'e'));
      recipe.overrides.push_back(std::move(rule));
    }
  }
  recipe.quantize_activations = j.value("quantize_activations", false);
  if (j.contains("head_widths")) recipe.head_widths = j["head_widths"].get<std::vector<double>>();
  if (j.contains("calib")) {
    recipe.calib_limit = j["calib"].value("limit", recipe.calib_limit);
    recipe.holdout_rows = j["calib"].value("holdout_rows", recipe.holdout_rows);
  }
  if (j.contains("eval")) recipe.eval_limit = j["eval"].value("limit", recipe.eval_limit);
  return recipe;
}

const json& recipe_schema() {
  static const json schema = json::parse(recipe_schema_text());
  return schema;
}

json action_json(const LayerAction& a) {
  switch (a.kind) {
    case LayerAction::Kind::kKeepFloat: return {{"kind", "fp32"}};
    case LayerAction::Kind::kInt8:
      return a.static_activations ? json{{"kind", "int8"}, {"activations", "static"}} : json{{"kind", "int8"}};
    case LayerAction::Kind::kInt4: return {{"kind", "int4"}, {"block", a.block}, {"method", a.method}};
    case LayerAction::Kind::kPrune: return {{"kind", "prune"}, {"ratio", a.ratio}};
  }
  return {};
}

json actions_json(const std::vector<LayerAction>& actions) {
  json list = json::array();
  for (const auto& a : actions) list.push_back(action_json(a));
  return list;
}

}  // namespace

Result<double> parse_size_bytes(const std::string& text, const std::string& what) {
  static const std::vector<std::pair<std::string, double>> units = {
      {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  return parse_quantity(text, units, /*unit_optional=*/true, what);
}

Result<double> parse_energy_joules(const std::string& text, const std::string& what) {
  return parse_quantity(text, {{"J", 1}, {"mJ", 1e-3}, {"uJ", 1e-6}}, /*unit_optional=*/false, what);
}

Result<double> parse_latency_seconds(const std::string& text, const std::string& what) {
  return parse_quantity(text, {{"s", 1}, {"ms", 1e-3}, {"us", 1e-6}}, /*unit_optional=*/false, what);
}

std::string action_name(const LayerAction& a) {
  switch (a.kind) {
    case LayerAction::Kind::kKeepFloat: return "fp32";
    case LayerAction::Kind::kInt8: return a.static_activations ? "int8-a8-static" : "int8";
    case LayerAction::Kind::kInt4: return "int4-b" + std::to_string(a.block) + "-" + a.method;
    case LayerAction::Kind::kPrune: {
      std::string ratio = json(a.ratio).dump();  // shortest round-trip form: 0.25, not 0.250000
      return "prune-" + ratio;
    }
  }
  return "unknown";
}

Result<SearchRecipe> parse_recipe(const std::string& json_text, const std::string& source_name) {
  const std::string where = "recipe '" + source_name + "'";
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    return invalid_input(where + ": not valid JSON: " + e.what());
  }
  try {
    EMBER_TRY(formats::validate_json(j, recipe_schema()).with_context(where));
    auto recipe = read_recipe(j);
    if (!recipe.ok()) return recipe.status().with_context(where);
    return recipe;
  } catch (const json::exception& e) {  // the schema shaped the JSON; this is a defect if reached
    return internal_error(where + ": " + e.what());
  }
}

Result<SearchRecipe> read_recipe_file(const std::string& path) {
  auto text = formats::read_input_file(path, kMaxRecipeBytes);
  if (!text.ok()) return text.status().with_context("recipe");
  return parse_recipe(*text, path);
}

nlohmann::json recipe_to_json(const SearchRecipe& r) {
  json j = {{"schema", "ember.recipe/1"}};
  json target = json::object();
  switch (r.target.kind) {
    case SearchTarget::Kind::kNone: break;
    case SearchTarget::Kind::kSizeBytes: target["size"] = static_cast<int64_t>(r.target.value); break;
    case SearchTarget::Kind::kBitsPerWeight: target["bpw"] = r.target.value; break;
    case SearchTarget::Kind::kEnergyJoules: target["energy"] = r.target.value; break;
    case SearchTarget::Kind::kLatencySeconds: target["latency"] = r.target.value; break;
  }
  j["target"] = target;
  j["budget"] = {{"metric", r.budget.metric}};
  if (r.budget.allowed) j["budget"]["allowed"] = *r.budget.allowed;
  if (!r.actions.empty()) j["actions"] = actions_json(r.actions);
  json overrides = json::array();
  for (const auto& o : r.overrides) {
    json rule = json::object();
    if (!o.name_regex.empty()) rule["name"] = o.name_regex;
    if (!o.op_type.empty()) rule["op"] = o.op_type;
    if (o.exclude) rule["exclude"] = true;
    if (!o.exclude && !o.actions.empty()) rule["actions"] = actions_json(o.actions);
    overrides.push_back(rule);
  }
  if (!overrides.empty()) j["overrides"] = overrides;
  j["quantize_activations"] = r.quantize_activations;
  if (r.head_widths) j["head_widths"] = *r.head_widths;
  j["calib"] = {{"limit", r.calib_limit}, {"holdout_rows", r.holdout_rows}};
  j["eval"] = {{"limit", r.eval_limit}};
  return j;
}

}  // namespace ember::passes

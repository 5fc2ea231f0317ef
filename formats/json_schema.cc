#include "formats/json_schema.h"

#include <cmath>
#include <regex>
#include <set>

namespace ember::formats {
namespace {

using json = nlohmann::json;

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "other";
  }
}

bool has_type(const json& v, const std::string& type) {
  const std::string t = type_of(v);
  if (type == "number") return t == "number" || t == "integer";
  if (type == "integer" && t == "number") {
    // 2.0 is an integer; compared without a cast, which is undefined for 1e300.
    const double x = v.get<double>();
    return std::isfinite(x) && x == std::trunc(x);
  }
  return t == type;
}

// A value as messages show it: scalars as JSON (long strings cut), containers by their kind only,
// since dumping a hostile, deeply nested value would recurse once per level.
std::string describe(const json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

Status fail(const std::string& where, const std::string& what) { return invalid_input((where.empty() ? "/" : where) + ": " + what); }

Status check(const json& v, const json& s, const std::string& where);

Status check_type(const json& v, const json& type, const std::string& where) {
  if (type.is_string()) {
    if (!has_type(v, type)) return fail(where, "expected " + type.get<std::string>() + ", got " + type_of(v));
    return Status::Ok();
  }
  for (const auto& t : type)
    if (has_type(v, t)) return Status::Ok();
  return fail(where, "expected one of " + type.dump() + ", got " + type_of(v));
}

Status check_object(const json& v, const json& s, const std::string& where) {
  if (s.contains("required"))
    for (const auto& key : s["required"])
      if (!v.contains(key.get<std::string>())) return fail(where, "lacks the required key '" + key.get<std::string>() + "'");
  const json empty = json::object();
  const json& props = s.contains("properties") ? s["properties"] : empty;
  for (const auto& [key, value] : v.items()) {
    const std::string at = where + "/" + key;
    if (props.contains(key)) {
      EMBER_TRY(check(value, props[key], at));
    } else if (s.contains("additionalProperties")) {
      const json& extra = s["additionalProperties"];
      if (extra.is_boolean() && !extra.get<bool>()) return fail(at, "is not an allowed key");
      if (extra.is_object()) EMBER_TRY(check(value, extra, at));
    }
  }
  return Status::Ok();
}

Status check_bounds(const json& v, const json& s, const std::string& where) {
  if (v.is_number()) {
    const double x = v.get<double>();
    if (s.contains("minimum") && x < s["minimum"].get<double>()) return fail(where, describe(v) + " is below the minimum " + s["minimum"].dump());
    if (s.contains("maximum") && x > s["maximum"].get<double>()) return fail(where, describe(v) + " is above the maximum " + s["maximum"].dump());
    if (s.contains("exclusiveMinimum") && x <= s["exclusiveMinimum"].get<double>())
      return fail(where, describe(v) + " must be above " + s["exclusiveMinimum"].dump());
    if (s.contains("exclusiveMaximum") && x >= s["exclusiveMaximum"].get<double>())
      return fail(where, describe(v) + " must be below " + s["exclusiveMaximum"].dump());
  }
  if (v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    if (s.contains("minLength") && text.size() < s["minLength"].get<size_t>()) return fail(where, "is shorter than " + s["minLength"].dump());
    if (s.contains("maxLength") && text.size() > s["maxLength"].get<size_t>()) return fail(where, "is longer than " + s["maxLength"].dump());
    if (s.contains("pattern") && !std::regex_search(text, std::regex(s["pattern"].get<std::string>())))
      return fail(where, describe(v) + " does not match " + s["pattern"].dump());
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return fail(where, "has fewer than " + s["minItems"].dump() + " items");
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return fail(where, "has more than " + s["maxItems"].dump() + " items");
  }
  return Status::Ok();
}

Status check(const json& v, const json& s, const std::string& where) {
  static const std::set<std::string> known = {"$schema", "$id", "title", "description", "type", "const", "enum", "required",
                                              "properties", "additionalProperties", "items", "minimum", "maximum",
                                              "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems",
                                              "default"};
  if (s.is_boolean()) return s.get<bool>() ? Status::Ok() : fail(where, "is not allowed");
  if (!s.is_object()) return internal_error("schema at " + where + " is not an object");
  for (const auto& [key, unused] : s.items())
    if (!known.count(key)) return internal_error("the schema uses the unsupported keyword '" + key + "' at " + where);
  if (s.contains("type")) EMBER_TRY(check_type(v, s["type"], where));
  if (s.contains("const") && v != s["const"]) return fail(where, "expected " + s["const"].dump() + ", got " + describe(v));
  if (s.contains("enum")) {
    bool found = false;
    for (const auto& e : s["enum"]) found = found || e == v;
    if (!found) return fail(where, describe(v) + " is not one of " + s["enum"].dump());
  }
  EMBER_TRY(check_bounds(v, s, where));
  if (v.is_object()) EMBER_TRY(check_object(v, s, where));
  if (v.is_array() && s.contains("items"))
    for (size_t i = 0; i < v.size(); ++i) EMBER_TRY(check(v[i], s["items"], where + "/" + std::to_string(i)));
  return Status::Ok();
}

}  // namespace

Status validate_json(const nlohmann::json& value, const nlohmann::json& schema) { return check(value, schema, ""); }

}  // namespace ember::formats

// A small JSON Schema (draft 2020-12) checker for the keywords Ember's schemas use: type,
// const, enum, required, properties, additionalProperties, items, minItems, minimum,
// maximum, exclusiveMinimum, pattern and local $ref ("#/$defs/..."). Unknown keywords are an
// error, so a schema cannot silently use something this checker ignores.
#pragma once
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace ember::calib_test {

class SchemaChecker {
 public:
  explicit SchemaChecker(nlohmann::json root) : root_(std::move(root)) {}

  // Error messages, each with the JSON pointer of the offending instance; empty when valid.
  std::vector<std::string> check(const nlohmann::json& instance) {
    errors_.clear();
    visit(root_, instance, "");
    return errors_;
  }

 private:
  static bool has_type(const nlohmann::json& v, const std::string& type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    return false;
  }

  const nlohmann::json& resolve(const std::string& ref) {
    const std::string prefix = "#/$defs/";
    if (ref.rfind(prefix, 0) != 0 || !root_["$defs"].contains(ref.substr(prefix.size()))) {
      static const nlohmann::json empty = nlohmann::json::object();
      errors_.push_back("unresolvable $ref " + ref);
      return empty;
    }
    return root_["$defs"][ref.substr(prefix.size())];
  }

  void visit(const nlohmann::json& schema, const nlohmann::json& v, const std::string& at) {
    static const std::set<std::string> annotations = {"$schema", "$id", "title", "description", "$defs", "default"};
    for (const auto& [key, rule] : schema.items()) {
      if (annotations.count(key)) continue;
      if (key == "$ref") {
        visit(resolve(rule.get<std::string>()), v, at);
      } else if (key == "type") {
        bool ok = false;
        if (rule.is_array())
          for (const auto& t : rule) ok |= has_type(v, t.get<std::string>());
        else
          ok = has_type(v, rule.get<std::string>());
        if (!ok) errors_.push_back(at + ": expected type " + rule.dump());
      } else if (key == "const") {
        if (v != rule) errors_.push_back(at + ": expected " + rule.dump());
      } else if (key == "enum") {
        bool found = false;
        for (const auto& e : rule) found |= v == e;
        if (!found) errors_.push_back(at + ": not one of " + rule.dump());
      } else if (key == "required") {
        if (v.is_object())
          for (const auto& r : rule)
            if (!v.contains(r.get<std::string>())) errors_.push_back(at + ": missing " + r.get<std::string>());
      } else if (key == "properties") {
        if (v.is_object())
          for (const auto& [name, sub] : rule.items())
            if (v.contains(name)) visit(sub, v[name], at + "/" + name);
      } else if (key == "additionalProperties") {
        if (!v.is_object()) continue;
        const nlohmann::json props = schema.value("properties", nlohmann::json::object());
        for (const auto& [name, item] : v.items()) {
          if (props.contains(name)) continue;
          if (rule.is_boolean()) {
            if (!rule.get<bool>()) errors_.push_back(at + ": unexpected property " + name);
          } else {
            visit(rule, item, at + "/" + name);
          }
        }
      } else if (key == "items") {
        if (v.is_array())
          for (size_t i = 0; i < v.size(); ++i) visit(rule, v[i], at + "/" + std::to_string(i));
      } else if (key == "minItems") {
        if (v.is_array() && v.size() < rule.get<size_t>()) errors_.push_back(at + ": fewer than " + rule.dump() + " items");
      } else if (key == "minimum") {
        if (v.is_number() && v.get<double>() < rule.get<double>()) errors_.push_back(at + ": below " + rule.dump());
      } else if (key == "maximum") {
        if (v.is_number() && v.get<double>() > rule.get<double>()) errors_.push_back(at + ": above " + rule.dump());
      } else if (key == "exclusiveMinimum") {
        if (v.is_number() && v.get<double>() <= rule.get<double>()) errors_.push_back(at + ": not above " + rule.dump());
      } else if (key == "pattern") {
        if (v.is_string() && !std::regex_search(v.get<std::string>(), std::regex(rule.get<std::string>())))
          errors_.push_back(at + ": does not match " + rule.dump());
      } else {
        errors_.push_back("schema keyword '" + key + "' is not supported by this checker");
      }
    }
  }

  nlohmann::json root_;
  std::vector<std::string> errors_;
};

}  // namespace ember::calib_test

#include "passes/pass_options.h"

#include <cstdio>
#include <cstdlib>

namespace ember::passes {

bool parse_option_value(const std::string& s, int64_t& out) {
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return !s.empty() && end && *end == '\0';
}

bool parse_option_value(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end && *end == '\0';
}

bool parse_option_value(const std::string& s, bool& out) {
  if (s == "true" || s == "1" || s == "on") return out = true, true;
  if (s == "false" || s == "0" || s == "off") return out = false, true;
  return false;
}

bool parse_option_value(const std::string& s, std::string& out) {
  out = s;
  return true;
}

std::string option_value_text(int64_t v) { return std::to_string(v); }
std::string option_value_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
std::string option_value_text(bool v) { return v ? "true" : "false"; }
std::string option_value_text(const std::string& v) { return v; }

Status PassOptions::check(const std::vector<OptionSpec>& specs) const {
  for (const auto& [key, value] : values_) {
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == key) spec = &s;
    if (!spec) {
      std::string known;
      for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      return invalid_input("pass '" + pass_name_ + "' has no option '" + key + "'" +
                           (known.empty() ? " (it takes none)" : " (options: " + known + ")"));
    }
    int64_t i;
    double f;
    bool b;
    const bool ok = spec->type == "int" ? parse_option_value(value, i)
                    : spec->type == "float" ? parse_option_value(value, f)
                    : spec->type == "bool" ? parse_option_value(value, b)
                                           : true;
    if (!ok) return invalid_input("pass '" + pass_name_ + "': option '" + key + "' expects " + spec->type + ", got '" + value + "'");
  }
  return Status::Ok();
}

}  // namespace ember::passes

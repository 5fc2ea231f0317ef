#include <cstdlib>

#include "passes/pass.h"

namespace ember::passes {
namespace {

bool parse_int(const std::string& s, int64_t& out) {
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return !s.empty() && end && *end == '\0';
}

bool parse_float(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end && *end == '\0';
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "1" || s == "on") return out = true, true;
  if (s == "false" || s == "0" || s == "off") return out = false, true;
  return false;
}

}  // namespace

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
    const bool ok = spec->type == "int" ? parse_int(value, i)
                    : spec->type == "float" ? parse_float(value, f)
                    : spec->type == "bool" ? parse_bool(value, b)
                                           : true;
    if (!ok) return invalid_input("pass '" + pass_name_ + "': option '" + key + "' expects " + spec->type + ", got '" + value + "'");
  }
  return Status::Ok();
}

int64_t PassOptions::get_int(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  int64_t v;
  return it != values_.end() && parse_int(it->second, v) ? v : fallback;
}

double PassOptions::get_float(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  double v;
  return it != values_.end() && parse_float(it->second, v) ? v : fallback;
}

bool PassOptions::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  bool v;
  return it != values_.end() && parse_bool(it->second, v) ? v : fallback;
}

std::string PassOptions::get_string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it != values_.end() ? it->second : fallback;
}

}  // namespace ember::passes

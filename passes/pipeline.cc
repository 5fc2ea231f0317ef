#include "passes/pipeline.h"

#include <cctype>

namespace ember::passes {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return false;
  return true;
}

}  // namespace

Result<std::vector<PipelineEntry>> parse_pipeline(const std::string& text) {
  std::vector<PipelineEntry> out;
  if (trim(text).empty()) return out;  // no passes: load and save
  size_t i = 0;
  const std::string bad = "bad pipeline '" + text + "': ";
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != '{') ++j;
    const std::string name = trim(text.substr(i, j - i));
    if (!valid_name(name)) return invalid_input(bad + "expected a pass name at offset " + std::to_string(i));
    std::map<std::string, std::string> values;
    if (j < text.size() && text[j] == '{') {
      const size_t close = text.find('}', j);
      if (close == std::string::npos) return invalid_input(bad + "missing '}' after '" + name + "{'");
      const std::string body = text.substr(j + 1, close - j - 1);
      size_t k = 0;
      while (k <= body.size() && !trim(body).empty()) {
        size_t comma = body.find(',', k);
        if (comma == std::string::npos) comma = body.size();
        const std::string item = trim(body.substr(k, comma - k));
        const size_t eq = item.find('=');
        if (eq == std::string::npos || trim(item.substr(0, eq)).empty())
          return invalid_input(bad + "option '" + item + "' of '" + name + "' is not key=value");
        values[trim(item.substr(0, eq))] = trim(item.substr(eq + 1));
        k = comma + 1;
        if (comma == body.size()) break;
      }
      j = close + 1;
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j < text.size() && text[j] != ',') return invalid_input(bad + "expected ',' after '" + name + "{...}'");
    }
    out.push_back({name, PassOptions(name, std::move(values))});
    i = j + 1;
    if (j == text.size()) break;
    if (i == text.size()) return invalid_input(bad + "trailing ','");
  }
  return out;
}

std::string pipeline_to_string(const std::vector<PipelineEntry>& pipeline) {
  std::string s;
  for (const auto& entry : pipeline) {
    if (!s.empty()) s += ",";
    s += entry.name;
    if (!entry.options.values().empty()) {
      s += "{";
      bool first = true;
      for (const auto& [k, v] : entry.options.values()) {
        s += (first ? "" : ",") + k + "=" + v;
        first = false;
      }
      s += "}";
    }
  }
  return s;
}

}  // namespace ember::passes

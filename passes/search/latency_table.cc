#include "passes/search/latency_table.h"

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "formats/atomic_file.h"
#include "formats/input_file.h"
#include "formats/sha256.h"

namespace ember::passes {
namespace {

constexpr const char* kFormat = "ember.latency-table/1";
constexpr uint64_t kMaxTableBytes = 64ull << 20;

nlohmann::json entries_json(const std::map<std::string, double>& entries) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, seconds] : entries) j[key] = seconds;
  return j;
}

}  // namespace

Result<LatencyTable> LatencyTable::parse(const std::string& text, const std::string& source_name) {
  auto bad = [&](const std::string& why) { return invalid_input("latency table '" + source_name + "': " + why); };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("is not a JSON object");
  if (!j.contains("format") || j["format"] != kFormat) return bad(std::string("needs \"format\": \"") + kFormat + "\"");
  if (!j.contains("entries") || !j["entries"].is_object()) return bad("needs an \"entries\" object");
  LatencyTable table;
  for (const auto& [key, value] : j["entries"].items()) {
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0 || value.get<double>() > 1e6)
      return bad("entry '" + key + "' is not a number of seconds in [0, 1e6]");
    table.entries_[key] = value.get<double>();
  }
  return table;
}

Result<LatencyTable> LatencyTable::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return LatencyTable{};
  EMBER_ASSIGN_OR_RETURN(const std::string text, formats::read_input_file(path, kMaxTableBytes));
  return parse(text, path);
}

std::string LatencyTable::to_json() const {
  return nlohmann::json{{"format", kFormat}, {"entries", entries_json(entries_)}}.dump(1) + "\n";
}

Status LatencyTable::save(const std::string& path) const { return formats::write_string_atomic(path, to_json()); }

std::optional<double> LatencyTable::find(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  ++reused_;
  return it->second;
}

void LatencyTable::add(const std::string& key, double seconds) {
  entries_[key] = seconds;
  ++measured_;
}

std::string latency_entries_digest(const std::map<std::string, double>& entries) {
  formats::Sha256 h;
  h.update(entries_json(entries).dump());
  return h.hex_digest();
}

}  // namespace ember::passes

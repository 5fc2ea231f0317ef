#include "formats/deployment_config.h"

#include <cstdio>
#include <initializer_list>
#include <string_view>

namespace ember::formats {
namespace {

using json = nlohmann::json;

std::string quoted(const std::string& text) { return "'" + text.substr(0, 64) + "'"; }

std::string number_text(double v) {  // "0.9", "nan", "inf"
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// The rules a key's value follows, as schemas/manifest.schema.json states them. Each reads
// its JSON value strictly (no silent number-to-int or string conversions) and checks a value.
struct IntIn {
  int lo, hi;
  Status read(const json& j, int& v, const std::string& key) const {
    if (!j.is_number_integer()) return invalid_input(key + ": expected an integer, got " + std::string(j.type_name()));
    if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(hi)) return out_of_range(std::to_string(j.get<uint64_t>()), key);
    const int64_t wide = j.get<int64_t>();  // within int64 now
    if (wide < lo || wide > hi) return out_of_range(std::to_string(wide), key);
    v = static_cast<int>(wide);
    return Status::Ok();
  }
  Status check(int v, const std::string& key) const { return v < lo || v > hi ? out_of_range(std::to_string(v), key) : Status::Ok(); }
  Status out_of_range(const std::string& v, const std::string& key) const {
    return invalid_input(key + ": " + v + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
};

struct RealIn {
  double lo, hi;
  Status read(const json& j, double& v, const std::string& key) const {
    if (!j.is_number()) return invalid_input(key + ": expected a number, got " + std::string(j.type_name()));
    EMBER_TRY(check(j.get<double>(), key));
    v = j.get<double>();
    return Status::Ok();
  }
  Status check(double v, const std::string& key) const {
    if (!(v >= lo && v <= hi))  // NaN fails too
      return invalid_input(key + ": " + number_text(v) + " is outside [" + number_text(lo) + ", " + number_text(hi) + "]");
    return Status::Ok();
  }
};

struct Flag {
  Status read(const json& j, bool& v, const std::string& key) const {
    if (!j.is_boolean()) return invalid_input(key + ": expected a boolean, got " + std::string(j.type_name()));
    v = j.get<bool>();
    return Status::Ok();
  }
  Status check(bool, const std::string&) const { return Status::Ok(); }
};

// Any text, one of `choices` when given, or a lowercase name ([a-z0-9-]+) when `name`.
struct Text {
  std::initializer_list<const char*> choices = {};
  bool name = false;
  Status read(const json& j, std::string& v, const std::string& key) const {
    if (!j.is_string()) return invalid_input(key + ": expected a string, got " + std::string(j.type_name()));
    EMBER_TRY(check(j.get<std::string>(), key));
    v = j.get<std::string>();
    return Status::Ok();
  }
  Status check(const std::string& v, const std::string& key) const {
    if (name && (v.empty() || v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos))
      return invalid_input(key + ": " + quoted(v) + " is not a lowercase name ([a-z0-9-]+)");
    if (choices.size() == 0) return Status::Ok();
    std::string list;
    for (const char* c : choices) {
      if (v == c) return Status::Ok();
      list += (list.empty() ? "" : ", ") + std::string(c);
    }
    return invalid_input(key + ": " + quoted(v) + " is not one of " + list);
  }
};

// A file or folder a manifest may name (the thermal sensor, the power readings' root): under
// /sys only, absolute and without "..", so a hostile manifest cannot make ember-rt read any other
// file (sysfs links stay inside sysfs). Values from the command line (serve's --thermal-sensor,
// --sysfs-root) are the user's own and are not confined.
struct SysfsPath {
  Status read(const json& j, std::string& v, const std::string& key) const {
    EMBER_TRY(Text{}.read(j, v, key));
    const std::string& text = v;
    const bool under_sys = text == "/sys" || text.rfind("/sys/", 0) == 0;
    const bool climbs = text.find("/../") != std::string::npos || (text.size() >= 3 && text.compare(text.size() - 3, 3, "/..") == 0);
    if (!text.empty() && (!under_sys || climbs || text.find('\0') != std::string::npos))
      return invalid_input(key + ": " + quoted(text) + " is outside /sys (a manifest may name only sysfs files)");
    return Status::Ok();
  }
  Status check(const std::string&, const std::string&) const { return Status::Ok(); }
};

// The objects that group keys; every other key is a leaf visited below.
constexpr std::string_view kGroups[] = {"scheduler", "scheduler.queue_capacity", "power", "thermal"};

// The one table of the section: calls `f(key, field, rule)` for every key, stopping at the
// first error. `Config` is DeploymentConfig or const DeploymentConfig.
template <class Config, class F>
Status visit_fields(Config& c, F&& f) {
  auto& s = c.scheduler;
  auto& t = c.thermal;
  EMBER_TRY(f("backend", c.backend, Text{{}, true}));
  EMBER_TRY(f("threads", c.threads, IntIn{0, 1024}));
  EMBER_TRY(f("scheduler.policy", s.policy, Text{{"priority", "fifo"}}));
  EMBER_TRY(f("scheduler.workers", s.workers, IntIn{0, 256}));
  EMBER_TRY(f("scheduler.urgent_reserved_share", s.urgent_reserved_share, RealIn{0, 0.9}));
  EMBER_TRY(f("scheduler.max_batch", s.max_batch, IntIn{1, 256}));
  EMBER_TRY(f("scheduler.max_queue_delay_us", s.max_queue_delay_us, IntIn{0, 10000000}));
  EMBER_TRY(f("scheduler.short_request_max_elements", s.short_request_max_elements, IntIn{0, 1048576}));
  for (int tier = 0; tier < kTiers; ++tier)
    EMBER_TRY(f("scheduler.queue_capacity." + std::string(tier_name(Tier(tier))), s.queue_capacity[size_t(tier)], IntIn{1, 100000}));
  EMBER_TRY(f("scheduler.timeout_ms", s.timeout_ms, IntIn{1, 3600000}));
  EMBER_TRY(f("power.source", c.power.source, Text{{"auto", "estimate"}}));
  EMBER_TRY(f("power.sysfs_root", c.power.sysfs_root, SysfsPath{}));
  EMBER_TRY(f("thermal.enabled", t.enabled, Flag{}));
  EMBER_TRY(f("thermal.sensor", t.sensor, SysfsPath{}));
  EMBER_TRY(f("thermal.threshold_c", t.threshold_c, RealIn{0, 150}));
  EMBER_TRY(f("thermal.hysteresis_c", t.hysteresis_c, RealIn{0, 50}));
  EMBER_TRY(f("thermal.poll_ms", t.poll_ms, IntIn{10, 60000}));
  EMBER_TRY(f("thermal.throttled_worker_share", t.throttled_worker_share, RealIn{0, 1}));
  EMBER_TRY(f("thermal.throttled_queue_delay_us", t.throttled_queue_delay_us, IntIn{0, 10000000}));
  return Status::Ok();
}

json::json_pointer pointer(const std::string& dotted) {
  std::string p = "/" + dotted;
  for (char& ch : p)
    if (ch == '.') ch = '/';
  return json::json_pointer(p);
}

bool is_group(const std::string& path) {
  for (auto g : kGroups)
    if (path == g) return true;
  return false;
}

bool is_leaf(const std::string& path) {
  bool found = false;
  DeploymentConfig probe;
  (void)visit_fields(probe, [&](const std::string& key, auto&, const auto&) {
    found = found || key == path;
    return Status::Ok();
  });
  return found;
}

// Groups are objects, and every key is one the table knows (the schema's
// additionalProperties: false), so a misspelt key is an error rather than ignored.
Status check_keys(const json& object, const std::string& prefix) {
  for (const auto& [key, value] : object.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (is_group(path)) {
      if (!value.is_object()) return invalid_input("deployment." + path + ": expected an object, got " + std::string(value.type_name()));
      EMBER_TRY(check_keys(value, path));
    } else if (!is_leaf(path)) {
      return invalid_input("deployment." + path.substr(0, 128) + ": not a key of the deployment section");
    }
  }
  return Status::Ok();
}

}  // namespace

const char* tier_name(Tier tier) {
  switch (tier) {
    case Tier::kUrgent: return "urgent";
    case Tier::kNormal: return "normal";
    case Tier::kLow: return "low";
  }
  return "?";
}

Result<Tier> parse_tier(const std::string& text) {
  if (text == "urgent") return Tier::kUrgent;
  if (text == "normal") return Tier::kNormal;
  if (text == "low") return Tier::kLow;
  return invalid_input("priority '" + text.substr(0, 64) + "' is not one of urgent, normal, low");
}

Result<DeploymentConfig> deployment_from_manifest(const json& manifest) {
  DeploymentConfig c;
  if (!manifest.is_object()) return invalid_input("the manifest is not a JSON object");
  // Manifests written before the section existed carried the thread count here.
  if (manifest.contains("scheduler") && manifest["scheduler"].is_object() && manifest["scheduler"].contains("threads"))
    EMBER_TRY((IntIn{0, 1024}.read(manifest["scheduler"]["threads"], c.threads, "scheduler.threads")));
  if (!manifest.contains("deployment")) return c;
  const json& section = manifest["deployment"];
  if (!section.is_object()) return invalid_input("deployment: expected an object, got " + std::string(section.type_name()));
  EMBER_TRY(check_keys(section, ""));
  auto read = [&](const std::string& key, auto& field, const auto& rule) {
    const auto at = pointer(key);
    return section.contains(at) ? rule.read(section[at], field, "deployment." + key) : Status::Ok();
  };
  EMBER_TRY(visit_fields(c, read));
  return c;
}

Status validate_deployment(const DeploymentConfig& config) {
  return visit_fields(config, [](const std::string& key, const auto& field, const auto& rule) { return rule.check(field, "deployment." + key); });
}

json deployment_to_json(const DeploymentConfig& config) {
  json out = json::object();
  (void)visit_fields(config, [&](const std::string& key, const auto& field, const auto&) {
    out[pointer(key)] = field;
    return Status::Ok();
  });
  return out;
}

}  // namespace ember::formats

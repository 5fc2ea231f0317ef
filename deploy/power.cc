#include "deploy/power.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

namespace ember::deploy {
namespace fs = std::filesystem;
namespace {

std::vector<fs::path> sorted_entries(const fs::path& dir, const std::regex& name) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (std::regex_match(it->path().filename().string(), name)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

// RAPL package zones: intel-rapl:N (not intel-rapl:N:M), each with a readable energy_uj.
EnergySource find_rapl(const fs::path& root, std::string& why) {
  EnergySource s;
  const auto zones = sorted_entries(root / "class/powercap", std::regex("intel-rapl:[0-9]+"));
  if (zones.empty()) {
    why += "no " + (root / "class/powercap/intel-rapl:N").string();
    return s;
  }
  for (const auto& zone : zones) {
    const std::string file = (zone / "energy_uj").string();
    auto value = read_sysfs_u64(file);
    if (!value.ok()) {
      why += value.status().message();
      return EnergySource{};
    }
    auto range = read_sysfs_u64((zone / "max_energy_range_uj").string());
    s.files.push_back(file);
    s.max_range.push_back(range.ok() ? *range : 0);
    s.description += (s.description.empty() ? "rapl:" : "+") + zone.filename().string();
  }
  s.kind = EnergySourceKind::kRapl;
  return s;
}

// The first hwmon chip with energy*_input, else with power*_input.
EnergySource find_hwmon(const fs::path& root, std::string& why) {
  EnergySource s;
  const auto chips = sorted_entries(root / "class/hwmon", std::regex("hwmon[0-9]+"));
  for (const auto kind : {EnergySourceKind::kHwmonEnergy, EnergySourceKind::kHwmonPower}) {
    const std::regex name(kind == EnergySourceKind::kHwmonEnergy ? "energy[0-9]+_input" : "power[0-9]+_input");
    for (const auto& chip : chips) {
      for (const auto& file : sorted_entries(chip, name)) {
        if (!read_sysfs_u64(file.string()).ok()) continue;
        s.kind = kind;
        s.files = {file.string()};
        s.max_range = {0};
        s.description = "hwmon:" + chip.filename().string() + "/" + file.filename().string();
        return s;
      }
    }
  }
  why += "; no readable energy*_input or power*_input under " + (root / "class/hwmon").string();
  return s;
}

}  // namespace

Result<uint64_t> read_sysfs_u64(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    return invalid_input("cannot read " + path + ": " + std::strerror(err) +
                         (err == EACCES ? " (RAPL energy_uj is root-only since Linux 5.10)" : ""));
  }
  uint64_t v = 0;
  if (!(in >> v)) return invalid_input(path + " does not hold an unsigned integer");
  return v;
}

uint64_t counter_delta(uint64_t previous, uint64_t now, uint64_t max_range) {
  if (now >= previous) return now - previous;
  if (max_range == 0 || previous > max_range) return 0;  // a reset we cannot size: count nothing
  return (max_range - previous) + now;
}

EnergySource find_energy_source(const std::string& sysfs_root) {
  const fs::path root(sysfs_root.empty() ? "/sys" : sysfs_root);
  std::string why;
  EnergySource rapl = find_rapl(root, why);
  if (rapl.kind != EnergySourceKind::kNone) return rapl;
  EnergySource hwmon = find_hwmon(root, why);
  if (hwmon.kind != EnergySourceKind::kNone) return hwmon;
  hwmon.why_not_measured = why;
  hwmon.description = "energy-model";
  return hwmon;
}

EnergyMeter::EnergyMeter(EnergySource source) : source_(std::move(source)), last_time_(std::chrono::steady_clock::now()) {
  for (const auto& f : source_.files) {
    auto v = read_sysfs_u64(f);
    last_raw_.push_back(v.ok() ? *v : 0);
  }
}

Result<double> EnergyMeter::total_joules() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - last_time_).count();
  last_time_ = now;
  for (size_t i = 0; i < source_.files.size(); ++i) {
    EMBER_ASSIGN_OR_RETURN(uint64_t raw, read_sysfs_u64(source_.files[i]));
    if (source_.kind == EnergySourceKind::kHwmonPower) {
      // The average of the two gauge samples over the interval (microwatts).
      joules_ += (static_cast<double>(raw) + static_cast<double>(last_raw_[i])) / 2 * 1e-6 * seconds;
    } else {
      joules_ += static_cast<double>(counter_delta(last_raw_[i], raw, source_.max_range[i])) * 1e-6;
    }
    last_raw_[i] = raw;
  }
  return joules_;
}

}  // namespace ember::deploy

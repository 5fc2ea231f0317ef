#include "deploy/thermal.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace ember::deploy {
namespace {

Result<double> read_millidegrees(const std::string& path) {
  std::ifstream in(path);
  if (!in) return invalid_input("cannot read thermal sensor " + path);
  long long milli = 0;
  if (!(in >> milli)) return invalid_input("thermal sensor " + path + " does not hold an integer (millidegrees Celsius)");
  return static_cast<double>(milli) / 1000.0;
}

}  // namespace

Result<ThermalSensor> ThermalSensor::open(const ThermalConfig& config, const std::string& sysfs_root) {
  ThermalSensor s;
  if (!config.sensor.empty()) {
    s.files_ = {config.sensor};
    s.description_ = config.sensor;
  } else {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(sysfs_root.empty() ? "/sys" : sysfs_root) / "class/thermal";
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename().string().rfind("thermal_zone", 0) == 0) s.files_.push_back((it->path() / "temp").string());
    std::sort(s.files_.begin(), s.files_.end());
    if (s.files_.empty()) return invalid_input("no thermal sensor: " + (dir / "thermal_zone*/temp").string() + " does not exist");
    s.description_ = (dir / "thermal_zone*/temp").string() + " (hottest of " + std::to_string(s.files_.size()) + ")";
  }
  EMBER_TRY(s.read_celsius().status());
  return s;
}

Result<double> ThermalSensor::read_celsius() const {
  double hottest = -1e9;
  for (const auto& f : files_) {
    EMBER_ASSIGN_OR_RETURN(double c, read_millidegrees(f));
    hottest = std::max(hottest, c);
  }
  return hottest;
}

bool ThermalGate::update(double celsius) {
  last_celsius_ = celsius;
  const bool was = throttled_;
  if (!throttled_ && celsius > config_.threshold_c) throttled_ = true;
  else if (throttled_ && celsius < config_.threshold_c - config_.hysteresis_c) throttled_ = false;
  if (was != throttled_) ++transitions_;
  return was != throttled_;
}

}  // namespace ember::deploy

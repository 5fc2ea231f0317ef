// Thermal gating: a sensor (a file holding millidegrees Celsius: a thermal_zone*/temp, or one a
// test writes) and a gate with hysteresis. Above threshold_c the gate closes (throttled);
// it reopens only below threshold_c - hysteresis_c, so a temperature hovering at the
// threshold does not flap.
#pragma once
#include <string>
#include <vector>

#include "deploy/deployment_config.h"
#include "ir/status.h"

namespace ember::deploy {

class ThermalSensor {
 public:
  // config.sensor when set, else every <sysfs_root>/class/thermal/thermal_zone*/temp (the
  // hottest counts). An error when none is readable.
  static Result<ThermalSensor> open(const ThermalConfig& config, const std::string& sysfs_root);
  Result<double> read_celsius() const;
  const std::string& description() const { return description_; }

 private:
  std::vector<std::string> files_;
  std::string description_;
};

class ThermalGate {
 public:
  explicit ThermalGate(const ThermalConfig& config) : config_(config) {}
  // Feeds one reading; returns true when the state changed.
  bool update(double celsius);
  bool throttled() const { return throttled_; }
  double last_celsius() const { return last_celsius_; }
  int transitions() const { return transitions_; }

 private:
  ThermalConfig config_;
  bool throttled_ = false;
  double last_celsius_ = 0;
  int transitions_ = 0;
};

}  // namespace ember::deploy

// Measured energy, where the machine offers it, read from sysfs (the root is a parameter so
// tests can build a fake tree):
//   1. powercap/RAPL: <root>/class/powercap/intel-rapl:N/energy_uj, one per package (the
//      sub-zones intel-rapl:N:M are parts of it and are not added). The counter wraps at
//      max_energy_range_uj. Since Linux 5.10 energy_uj is readable by root only (a side
//      channel fix): an unreadable file is reported as the reason, and the next source is tried.
//   2. hwmon: <root>/class/hwmon/hwmonN/energy*_input (cumulative microjoules), else
//      power*_input (microwatts, integrated between reads).
// Without either, the meter is "estimated": callers use the energy model (work_energy.h).
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "ir/status.h"

namespace ember::deploy {

enum class EnergySourceKind { kNone, kRapl, kHwmonEnergy, kHwmonPower };

struct EnergySource {
  EnergySourceKind kind = EnergySourceKind::kNone;
  std::vector<std::string> files;       // counters (energy) or gauges (power)
  std::vector<uint64_t> max_range;      // RAPL: max_energy_range_uj per file; 0 = no wrap known
  std::string description;              // "rapl:intel-rapl:0", "hwmon:hwmon2/energy1_input"
  std::string why_not_measured;         // when kind == kNone: what was looked for and why it failed
};

// Looks for RAPL, then hwmon; never fails (kNone carries the reason).
EnergySource find_energy_source(const std::string& sysfs_root);

// Joules since the previous sample of a wrapping counter: the counter counts up to
// max_range and restarts at 0.
uint64_t counter_delta(uint64_t previous, uint64_t now, uint64_t max_range);

// A cumulative energy reading since the meter was opened. Thread-safe. Counters must be read
// more often than they wrap (RAPL wraps after about 2^32 uJ, over ten minutes at 300 W):
// long-lived users call total_joules() periodically.
class EnergyMeter {
 public:
  explicit EnergyMeter(EnergySource source);
  bool measured() const { return source_.kind != EnergySourceKind::kNone; }
  const EnergySource& source() const { return source_; }
  // Cumulative joules since construction (0 for an unmeasured source).
  Result<double> total_joules();

 private:
  EnergySource source_;
  std::mutex mutex_;
  std::vector<uint64_t> last_raw_;
  double joules_ = 0;
  std::chrono::steady_clock::time_point last_time_;
};

// Reads one unsigned integer from a sysfs-style file.
Result<uint64_t> read_sysfs_u64(const std::string& path);

}  // namespace ember::deploy

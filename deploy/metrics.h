// The server's counters in the Prometheus text exposition format (version 0.0.4): latency and
// queue-time histograms per tier, batch sizes, outcomes and rejections per tier, energy (and
// whether it was measured), and the thermal state. Thread-safe.
#pragma once
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "deploy/deployment_config.h"

namespace ember::deploy {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  // Appends `name_bucket{labels,le=...}`, `name_sum`, `name_count` lines.
  void write(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

struct EnergyGauge {
  double joules = 0;
  bool measured = false;
  std::string source;
  uint64_t inferences = 0;
  double seconds = 0;  // inference time the joules were spent in
};

class Metrics {
 public:
  Metrics();
  void request_done(Tier tier, double latency_s, double queue_s, const std::string& outcome);  // outcome: ok, error, timeout
  void rejected(Tier tier, const std::string& reason);                                        // queue_full, shutting_down, bad_request
  void batch(int size);
  void set_energy(const EnergyGauge& energy);
  void set_thermal(bool throttled, double celsius, bool sensor_ok);
  void set_queue_depths(const std::array<int, kTiers>& depths, int busy_workers, int active_workers);
  std::string prometheus_text() const;

 private:
  mutable std::mutex mutex_;
  std::array<Histogram, kTiers> latency_, queue_;
  Histogram batch_sizes_;
  std::map<std::pair<int, std::string>, uint64_t> outcomes_, rejections_;
  EnergyGauge energy_;
  bool throttled_ = false, sensor_ok_ = false;
  double celsius_ = 0;
  std::array<int, kTiers> depths_{};
  int busy_ = 0, active_ = 0;
};

}  // namespace ember::deploy

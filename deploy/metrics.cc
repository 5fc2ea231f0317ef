#include "deploy/metrics.h"

#include <cstdio>

namespace ember::deploy {
namespace {

const std::vector<double> kSeconds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string tier_label(int t) { return "tier=\"" + std::string(tier_name(Tier(t))) + "\""; }

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::write(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{" + sep + "le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : latency_{Histogram(kSeconds), Histogram(kSeconds), Histogram(kSeconds)},
      queue_{Histogram(kSeconds), Histogram(kSeconds), Histogram(kSeconds)},
      batch_sizes_({1, 2, 4, 8, 16, 32, 64}) {}

void Metrics::request_done(Tier tier, double latency_s, double queue_s, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  latency_[int(tier)].observe(latency_s);
  queue_[int(tier)].observe(queue_s);
  ++outcomes_[{int(tier), outcome}];
}

void Metrics::rejected(Tier tier, const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++rejections_[{int(tier), reason}];
}

void Metrics::batch(int size) {
  std::lock_guard lock(mutex_);
  batch_sizes_.observe(size);
}

void Metrics::set_energy(const EnergyGauge& energy) {
  std::lock_guard lock(mutex_);
  energy_ = energy;
}

void Metrics::set_thermal(bool throttled, double celsius, bool sensor_ok) {
  std::lock_guard lock(mutex_);
  throttled_ = throttled;
  celsius_ = celsius;
  sensor_ok_ = sensor_ok;
}

void Metrics::set_queue_depths(const std::array<int, kTiers>& depths, int busy_workers, int active_workers) {
  std::lock_guard lock(mutex_);
  depths_ = depths;
  busy_ = busy_workers;
  active_ = active_workers;
}

std::string Metrics::prometheus_text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  header(out, "ember_request_latency_seconds", "histogram", "Time from arrival to answer, per priority tier.");
  for (int t = 0; t < kTiers; ++t) latency_[t].write(out, "ember_request_latency_seconds", tier_label(t));
  header(out, "ember_queue_time_seconds", "histogram", "Time a request waited in its queue, per priority tier.");
  for (int t = 0; t < kTiers; ++t) queue_[t].write(out, "ember_queue_time_seconds", tier_label(t));
  header(out, "ember_batch_size", "histogram", "Requests run together in one inference.");
  batch_sizes_.write(out, "ember_batch_size", "");
  header(out, "ember_requests_total", "counter", "Requests answered, per tier and outcome.");
  for (const auto& [key, n] : outcomes_)
    out += "ember_requests_total{" + tier_label(key.first) + ",outcome=\"" + key.second + "\"} " + std::to_string(n) + "\n";
  header(out, "ember_rejections_total", "counter", "Requests rejected before queueing, per tier and reason.");
  for (const auto& [key, n] : rejections_)
    out += "ember_rejections_total{" + tier_label(key.first) + ",reason=\"" + key.second + "\"} " + std::to_string(n) + "\n";
  header(out, "ember_energy_joules_total", "counter", "Energy of the inferences run (measured: package counter; else estimated).");
  out += "ember_energy_joules_total{measured=\"" + std::string(energy_.measured ? "true" : "false") + "\",source=\"" + energy_.source + "\"} " +
         number(energy_.joules) + "\n";
  header(out, "ember_energy_measured", "gauge", "1 when energy comes from a hardware counter, 0 when the energy model estimated it.");
  out += "ember_energy_measured " + std::to_string(energy_.measured ? 1 : 0) + "\n";
  header(out, "ember_energy_joules_per_inference", "gauge", "Energy per inference run so far.");
  out += "ember_energy_joules_per_inference " + number(energy_.inferences ? energy_.joules / double(energy_.inferences) : 0.0) + "\n";
  header(out, "ember_energy_average_watts", "gauge", "Energy over the time spent in inference.");
  out += "ember_energy_average_watts " + number(energy_.seconds > 0 ? energy_.joules / energy_.seconds : 0.0) + "\n";
  header(out, "ember_inferences_total", "counter", "Inferences run (a batch counts once).");
  out += "ember_inferences_total " + std::to_string(energy_.inferences) + "\n";
  header(out, "ember_thermal_throttled", "gauge", "1 while the thermal gate throttles.");
  out += "ember_thermal_throttled " + std::to_string(throttled_ ? 1 : 0) + "\n";
  header(out, "ember_thermal_celsius", "gauge", "Last sensor reading (NaN without a sensor).");
  out += "ember_thermal_celsius " + (sensor_ok_ ? number(celsius_) : std::string("NaN")) + "\n";
  header(out, "ember_queue_depth", "gauge", "Requests waiting, per tier.");
  for (int t = 0; t < kTiers; ++t) out += "ember_queue_depth{" + tier_label(t) + "} " + std::to_string(depths_[t]) + "\n";
  header(out, "ember_workers_busy", "gauge", "Workers running an inference.");
  out += "ember_workers_busy " + std::to_string(busy_) + "\n";
  header(out, "ember_workers_active", "gauge", "Workers allowed to run (fewer while throttled).");
  out += "ember_workers_active " + std::to_string(active_) + "\n";
  return out;
}

}  // namespace ember::deploy

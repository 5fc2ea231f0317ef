// The manifest's `deployment` section (schemas/manifest.schema.json): how ember-rt deploys a
// model. `ember compress` writes it from its --deploy-* options, ember-rt reads it and lets its
// own options override single fields. One struct, one reader, one range check and one writer,
// all driven by one table of the section's keys (deployment_config.cc), so the three cannot
// drift apart.
//
//   {"backend": "cpu", "threads": 0,
//    "scheduler": {"policy": "priority", "workers": 0, "urgent_reserved_share": 0.2, "max_batch": 8,
//                  "max_queue_delay_us": 2000, "short_request_max_elements": 64,
//                  "queue_capacity": {"urgent": 32, "normal": 64, "low": 64}, "timeout_ms": 10000},
//    "power": {"source": "auto", "sysfs_root": "/sys"},
//    "thermal": {"enabled": true, "sensor": "", "threshold_c": 85, "hysteresis_c": 5, "poll_ms": 500,
//                "throttled_worker_share": 0.5, "throttled_queue_delay_us": 20000}}
#pragma once
#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "ir/status.h"

namespace ember::formats {

// Request priorities of ember-rt serve; the section sizes one queue per tier.
enum class Tier : int { kUrgent = 0, kNormal = 1, kLow = 2 };
constexpr int kTiers = 3;
const char* tier_name(Tier tier);
Result<Tier> parse_tier(const std::string& text);  // "urgent" | "normal" | "low"

struct SchedulerConfig {
  std::string policy = "priority";        // "fifo": one queue order, no reservation
  int workers = 0;                        // 0: the available cores
  double urgent_reserved_share = 0.2;     // of the workers, only urgent work may use
  int max_batch = 8;
  int max_queue_delay_us = 2000;
  int short_request_max_elements = 64;    // requests this small may be batched
  std::array<int, kTiers> queue_capacity = {32, 64, 64};
  int timeout_ms = 10000;
};

struct PowerConfig {
  std::string source = "auto";            // "estimate": never read sysfs
  std::string sysfs_root = "/sys";
};

struct ThermalConfig {
  bool enabled = true;
  std::string sensor;                     // empty: the hottest thermal_zone*/temp
  double threshold_c = 85;
  double hysteresis_c = 5;
  int poll_ms = 500;
  double throttled_worker_share = 0.5;
  int throttled_queue_delay_us = 20000;
};

struct DeploymentConfig {
  std::string backend = "cpu";            // HAL backend: cpu, cpu-scalar, cpu-avx2, cpu-avxvnni, cpu-avx512
  int threads = 0;                        // intra-op threads of run and bench; 0: all cores
  SchedulerConfig scheduler;
  PowerConfig power;
  ThermalConfig thermal;
};

// The section of a parsed manifest: keys absent keep their defaults (a manifest without the
// section gives the defaults, and its old top-level scheduler.threads when set). A key of the
// wrong type, an unknown key or a value outside the schema's range is invalid_input naming
// it ("deployment.scheduler.max_batch: 0 is outside [1, 256]").
Result<DeploymentConfig> deployment_from_manifest(const nlohmann::json& manifest);
// The same range checks on a struct filled elsewhere (command-line options, overrides).
Status validate_deployment(const DeploymentConfig& config);
// Every key, defaults included; deployment_from_manifest reads it back to the same struct.
nlohmann::json deployment_to_json(const DeploymentConfig& config);

}  // namespace ember::formats

// The manifest's `deployment` section (schemas/manifest.schema.json) as a struct with the
// defaults the schema documents. ember-rt reads it from a manifest, then lets its own
// command-line options override single fields.
#pragma once
#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "ir/status.h"

namespace ember::deploy {

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
  std::string backend = "cpu";
  int threads = 0;
  SchedulerConfig scheduler;
  PowerConfig power;
  ThermalConfig thermal;
};

// From a manifest already validated against the schema; a manifest without the section gives
// the defaults (and its old scheduler.threads, when set).
Result<DeploymentConfig> deployment_from_manifest(const nlohmann::json& manifest);
nlohmann::json deployment_to_json(const DeploymentConfig& config);

}  // namespace ember::deploy

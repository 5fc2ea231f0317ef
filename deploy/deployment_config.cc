#include "deploy/deployment_config.h"

namespace ember::deploy {
namespace {

template <class T>
void take(const nlohmann::json& object, const char* key, T& field) {
  if (object.is_object() && object.contains(key)) field = object[key].get<T>();
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

Result<DeploymentConfig> deployment_from_manifest(const nlohmann::json& manifest) {
  DeploymentConfig c;
  try {
    if (manifest.contains("scheduler")) take(manifest["scheduler"], "threads", c.threads);
    if (!manifest.contains("deployment")) return c;
    const auto& d = manifest["deployment"];
    take(d, "backend", c.backend);
    take(d, "threads", c.threads);
    if (d.contains("scheduler")) {
      const auto& s = d["scheduler"];
      auto& o = c.scheduler;
      take(s, "policy", o.policy);
      take(s, "workers", o.workers);
      take(s, "urgent_reserved_share", o.urgent_reserved_share);
      take(s, "max_batch", o.max_batch);
      take(s, "max_queue_delay_us", o.max_queue_delay_us);
      take(s, "short_request_max_elements", o.short_request_max_elements);
      take(s, "timeout_ms", o.timeout_ms);
      if (s.contains("queue_capacity"))
        for (int t = 0; t < kTiers; ++t) take(s["queue_capacity"], tier_name(Tier(t)), o.queue_capacity[t]);
    }
    if (d.contains("power")) {
      take(d["power"], "source", c.power.source);
      take(d["power"], "sysfs_root", c.power.sysfs_root);
    }
    if (d.contains("thermal")) {
      const auto& t = d["thermal"];
      auto& o = c.thermal;
      take(t, "enabled", o.enabled);
      take(t, "sensor", o.sensor);
      take(t, "threshold_c", o.threshold_c);
      take(t, "hysteresis_c", o.hysteresis_c);
      take(t, "poll_ms", o.poll_ms);
      take(t, "throttled_worker_share", o.throttled_worker_share);
      take(t, "throttled_queue_delay_us", o.throttled_queue_delay_us);
    }
  } catch (const nlohmann::json::exception& e) {
    return invalid_input(std::string("the manifest's deployment section: ") + e.what());
  }
  return c;
}

nlohmann::json deployment_to_json(const DeploymentConfig& c) {
  const auto& s = c.scheduler;
  const auto& t = c.thermal;
  return {{"backend", c.backend},
          {"threads", c.threads},
          {"scheduler",
           {{"policy", s.policy}, {"workers", s.workers}, {"urgent_reserved_share", s.urgent_reserved_share},
            {"max_batch", s.max_batch}, {"max_queue_delay_us", s.max_queue_delay_us},
            {"short_request_max_elements", s.short_request_max_elements},
            {"queue_capacity", {{"urgent", s.queue_capacity[0]}, {"normal", s.queue_capacity[1]}, {"low", s.queue_capacity[2]}}},
            {"timeout_ms", s.timeout_ms}}},
          {"power", {{"source", c.power.source}, {"sysfs_root", c.power.sysfs_root}}},
          {"thermal",
           {{"enabled", t.enabled}, {"sensor", t.sensor}, {"threshold_c", t.threshold_c}, {"hysteresis_c", t.hysteresis_c},
            {"poll_ms", t.poll_ms}, {"throttled_worker_share", t.throttled_worker_share},
            {"throttled_queue_delay_us", t.throttled_queue_delay_us}}}};
}

}  // namespace ember::deploy

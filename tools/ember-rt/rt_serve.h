// ember-rt serve: the pieces rt_serve.cc (start-up, signals, thermal polling) and
// rt_serve_routes.cc (the HTTP API) share.
#pragma once
#include <httplib.h>

#include <cstdint>
#include <string>

#include "deploy/metrics.h"
#include "deploy/scheduler.h"
#include "deploy/session.h"

namespace ember::rt {

struct ServeContext {
  std::string model_name;
  deploy::Session* session = nullptr;  // the first worker's: inputs and metadata
  deploy::Scheduler* scheduler = nullptr;
  deploy::Metrics* metrics = nullptr;
  deploy::DeploymentConfig config;
  uint64_t max_body_bytes = 0;         // --max-body-bytes
  std::string thermal_source;          // the sensor, or why there is none
  const bool* thermal_ok = nullptr;
};

// Installs the Open Inference Protocol routes, /metrics and /ember/state on `server`.
void install_routes(httplib::Server& server, ServeContext& context);

}  // namespace ember::rt

// The deployment settings live in formats/deployment_config.h: they are a manifest section that
// `ember compress` writes and ember-rt reads. The deployment side names them unqualified.
#pragma once
#include "formats/deployment_config.h"

namespace ember::deploy {

using formats::DeploymentConfig;
using formats::kTiers;
using formats::parse_tier;
using formats::PowerConfig;
using formats::SchedulerConfig;
using formats::ThermalConfig;
using formats::Tier;
using formats::tier_name;

}  // namespace ember::deploy

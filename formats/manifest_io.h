// Reading a deployment manifest (schemas/manifest.schema.json) and checking its structure:
// the required keys and their types. ember-rt uses it before trusting a manifest.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "ir/status.h"

namespace ember::formats {

Status check_manifest(const nlohmann::json& manifest);
Result<nlohmann::json> read_manifest(const std::string& path);

}  // namespace ember::formats

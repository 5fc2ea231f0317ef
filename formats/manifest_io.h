// Reading a deployment manifest (schemas/manifest.schema.json) and checking its structure:
// the required keys and their types. ember-rt uses it before trusting a manifest.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "ir/status.h"

namespace ember::formats {

// Manifests are a few hundred kilobytes; anything above this is refused before reading.
inline constexpr uint64_t kMaxManifestBytes = uint64_t{64} << 20;

Status check_manifest(const nlohmann::json& manifest);
// A regular file of at most kMaxManifestBytes (a FIFO or /dev/zero is refused at once).
Result<nlohmann::json> read_manifest(const std::string& path);
Result<nlohmann::json> parse_manifest(const std::string& text, const std::string& display_name);
// The model file is the one the manifest describes: model.bytes first (no hashing of a file
// of the wrong size), then model.sha256.
Status verify_manifest_model(const nlohmann::json& manifest, const std::string& manifest_path,
                             const std::string& model_path);

}  // namespace ember::formats

// Fuzz target: the deployment manifest reader (JSON parsing and the structure checks) and the
// reader of its deployment section (formats/deployment_config.h), whose result is printed back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/deployment_config.h"
#include "formats/manifest_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto manifest = ember::formats::parse_manifest(text, "fuzz.json");
  if (!manifest.ok()) return 0;
  (void)manifest->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto deployment = ember::formats::deployment_from_manifest(*manifest);
  if (deployment.ok() && !ember::formats::validate_deployment(*deployment).ok()) __builtin_trap();  // read values are in range
  if (deployment.ok()) (void)ember::formats::deployment_to_json(*deployment).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}

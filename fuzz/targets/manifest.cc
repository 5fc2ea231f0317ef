// Fuzz target: the deployment manifest reader (JSON parsing and the structure checks).
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/manifest_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto manifest = ember::formats::parse_manifest(text, "fuzz.json");
  if (manifest.ok()) (void)manifest->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}

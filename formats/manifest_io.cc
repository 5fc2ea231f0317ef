#include "formats/manifest_io.h"

#include <fstream>
#include <sstream>

namespace ember::formats {

Status check_manifest(const nlohmann::json& m) {
  using vt = nlohmann::json::value_t;
  const std::vector<std::pair<std::string, vt>> required = {
      {"schema", vt::string},  {"tool", vt::object},      {"model", vt::object},     {"pipeline", vt::string},
      {"calibration", vt::object}, {"quality", vt::object}, {"tensors", vt::array},    {"op_counts", vt::object},
      {"runtime", vt::object}, {"energy", vt::object}};
  if (!m.is_object()) return invalid_input("the manifest is not a JSON object");
  for (const auto& [key, type] : required)
    if (!m.contains(key) || m[key].type() != type) return invalid_input("the manifest lacks '" + key + "' of the right type");
  if (m["schema"] != "ember.manifest/1") return invalid_input("unknown manifest schema " + m["schema"].dump());
  const auto& model = m["model"];
  if (!model.contains("sha256") || !model["sha256"].is_string() || model["sha256"].get<std::string>().size() != 64)
    return invalid_input("the manifest lacks a valid model.sha256");
  if (!model.contains("bytes") || !model["bytes"].is_number_unsigned()) return invalid_input("the manifest lacks model.bytes");
  return Status::Ok();
}

Result<nlohmann::json> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) return invalid_input("cannot read manifest " + path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json m = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded()) return invalid_input(path + " is not valid JSON");
  EMBER_TRY(check_manifest(m).with_context(path));
  return m;
}

}  // namespace ember::formats

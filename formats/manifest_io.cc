#include "formats/manifest_io.h"

#include "formats/input_file.h"
#include "formats/json_depth.h"
#include "formats/sha256.h"

namespace ember::formats {
namespace {

// A manifest nests a few levels (formats/json_depth.h).
constexpr int kMaxJsonDepth = 64;

}  // namespace

Status check_manifest(const nlohmann::json& m) {
  using vt = nlohmann::json::value_t;
  const std::vector<std::pair<std::string, vt>> required = {
      {"schema", vt::string},  {"tool", vt::object},      {"model", vt::object},     {"pipeline", vt::string},
      {"calibration", vt::object}, {"quality", vt::object}, {"tensors", vt::array},    {"op_counts", vt::object},
      {"runtime", vt::object}, {"energy", vt::object}};
  if (!m.is_object()) return invalid_input("the manifest is not a JSON object");
  for (const auto& [key, type] : required)
    if (!m.contains(key) || m[key].type() != type) return invalid_input("the manifest lacks '" + key + "' of the right type");
  if (m["schema"] != "ember.manifest/1")
    return invalid_input("unknown manifest schema " + m["schema"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  const auto& model = m["model"];
  if (!model.contains("sha256") || !model["sha256"].is_string() || model["sha256"].get<std::string>().size() != 64)
    return invalid_input("the manifest lacks a valid model.sha256");
  if (!model.contains("bytes") || !model["bytes"].is_number_unsigned()) return invalid_input("the manifest lacks model.bytes");
  return Status::Ok();
}

Status verify_manifest_model(const nlohmann::json& manifest, const std::string& manifest_path,
                             const std::string& model_path) {
  EMBER_TRY(check_manifest(manifest).with_context(manifest_path));
  EMBER_ASSIGN_OR_RETURN(InputFile file, open_input_file(model_path));
  const uint64_t expected_bytes = manifest["model"]["bytes"].get<uint64_t>();
  if (file.size() != expected_bytes)  // the cheap check first: no hashing of a wrong file
    return invalid_input("the manifest " + manifest_path + " describes a model of " + std::to_string(expected_bytes) +
                         " bytes, but " + model_path + " has " + std::to_string(file.size()));
  EMBER_ASSIGN_OR_RETURN(std::string hash, sha256_file(model_path));
  const std::string expected = manifest["model"]["sha256"].get<std::string>();
  if (hash != expected)
    return invalid_input("the manifest " + manifest_path + " describes a model with sha256 " + expected + ", but " +
                         model_path + " has sha256 " + hash);
  return Status::Ok();
}

Result<nlohmann::json> read_manifest(const std::string& path) {
  auto text = read_input_file(path, kMaxManifestBytes);
  if (!text.ok()) return text.status().with_context("manifest");
  return parse_manifest(*text, path);
}

Result<nlohmann::json> parse_manifest(const std::string& text, const std::string& path) {
  EMBER_TRY(check_json_depth(text, kMaxJsonDepth).with_context(path));
  nlohmann::json m = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded()) return invalid_input(path + " is not valid JSON");
  EMBER_TRY(check_manifest(m).with_context(path));
  return m;
}

}  // namespace ember::formats

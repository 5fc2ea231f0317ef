// The deployment manifest (schemas/manifest.schema.json) and the human report (report.md) of
// a compression run. Both are deterministic: no timestamps or timings, so the same inputs and
// options give byte-identical files.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "formats/deployment_config.h"
#include "passes/report/layer_stats.h"
#include "passes/search/compress.h"

namespace ember::passes {

struct ManifestInputs {
  std::string tool_version;
  std::string model_file;             // as written, relative to the manifest ("model.onnx")
  std::string model_sha256;
  size_t model_bytes = 0;
  std::string source_file;            // the input model's file name
  std::string source_sha256;
  size_t source_bytes = 0;
  std::map<std::string, std::string> options;  // the command's options, as given
  std::string calibration_source;
  std::string calibration_hash;
  int64_t calibration_rows = 0;
  std::string eval_source;
  int64_t eval_rows = 0;
  int threads = 0;
  formats::DeploymentConfig deployment;  // written as the manifest's deployment section
};

nlohmann::json build_manifest(const ManifestInputs& in, const CompressResult& result, const ModelStats& stats,
                              const ir::Model& compressed);
std::string build_report(const ManifestInputs& in, const CompressResult& result, const ModelStats& stats);

}  // namespace ember::passes

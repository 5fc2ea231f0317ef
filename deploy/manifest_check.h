// The manifest, obeyed: what ember-rt verifies before it runs a model with its manifest.
//   - the file: a regular file under formats::kMaxManifestBytes, JSON, valid against
//     schemas/manifest.schema.json;
//   - the model's size and sha256 match (formats::verify_manifest_model);
//   - every op the manifest requires has a kernel here (else: refuse, naming them);
//   - the ISA: the backend it names and the level it prefers against this CPU (a lower level
//     runs, slower: warn and name the path taken; a backend this CPU cannot run: refuse
//     unless a lower CPU level exists, which is the slower path);
//   - threads clamped to the cores this process may use, the figure used reported;
//   - budget_met false: warn.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deploy/deployment_config.h"
#include "ir/status.h"

namespace ember::deploy {

enum class CheckLevel { kOk, kWarn, kFail };

struct ManifestCheck {
  std::string name;    // "schema", "sha256", "ops", "isa", "threads", "budget"
  CheckLevel level = CheckLevel::kOk;
  std::string detail;
};

struct VerifiedManifest {
  nlohmann::json manifest;
  DeploymentConfig deployment;
  std::vector<ManifestCheck> checks;
  int threads_used = 1;
  std::string backend_used;   // a registered backend name ("cpu-avx2")
  bool runnable() const;      // no check failed
};

// Reads and validates the file only (size, regular file, JSON, schema).
Result<nlohmann::json> load_manifest(const std::string& path);
// The cores this process may run on (sched_getaffinity).
int available_cores();
// requested <= 0: the manifest's figure, else all cores; always clamped to [1, cores].
int clamp_threads(int requested, int cores);

// Every check, run even after a failure so `ember-rt check` lists them all. A file that cannot
// be read or parsed, or that fails the schema, is an error Status instead.
Result<VerifiedManifest> verify_manifest(const std::string& manifest_path, const std::string& model_path, int requested_threads);

const char* check_level_name(CheckLevel level);
nlohmann::json verified_to_json(const VerifiedManifest& v);
// The first failing check as an error Status, or ok.
Status first_failure(const VerifiedManifest& v);

}  // namespace ember::deploy

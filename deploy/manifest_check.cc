#include "deploy/manifest_check.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "deploy/cpu_backend.h"
#include "formats/json_schema.h"
#include "deploy/manifest_schema.h"
#include "formats/manifest_io.h"
#include "runtime/cpu.h"
#include "runtime/kernel.h"

namespace ember::deploy {
namespace {

void add(VerifiedManifest& v, std::string name, CheckLevel level, std::string detail) {
  v.checks.push_back({std::move(name), level, std::move(detail)});
}

// formats::verify_manifest_model: model.bytes first (no hashing of a wrong file), then sha256.
void check_model(VerifiedManifest& v, const std::string& manifest_path, const std::string& model_path) {
  Status same = formats::verify_manifest_model(v.manifest, manifest_path, model_path);
  if (!same.ok()) return add(v, "sha256", CheckLevel::kFail, same.message());
  add(v, "sha256", CheckLevel::kOk, v.manifest["model"]["sha256"].get<std::string>() + " matches (" +
                                        std::to_string(v.manifest["model"]["bytes"].get<uint64_t>()) + " bytes)");
}

// "com.microsoft.MatMulNBits" -> (domain, op); ops of the default domain have no prefix.
std::pair<std::string, std::string> split_op(const std::string& qualified) {
  const size_t dot = qualified.rfind('.');
  if (dot == std::string::npos) return {"", qualified};
  return {qualified.substr(0, dot), qualified.substr(dot + 1)};
}

void check_ops(VerifiedManifest& v) {
  const auto& rt = v.manifest["runtime"];
  const auto& registry = runtime::default_registry();
  std::string missing;
  for (const auto& op : rt["ops"]) {
    const auto [domain, name] = split_op(op.get<std::string>());
    int64_t opset = 1000;
    if (rt.contains("opsets") && rt["opsets"].is_object()) {
      const std::string key = domain.empty() ? "ai.onnx" : domain;
      if (rt["opsets"].contains(key) && rt["opsets"][key].is_number_integer()) opset = rt["opsets"][key].get<int64_t>();
    }
    if (!registry.find(name, domain, opset)) missing += (missing.empty() ? "" : ", ") + op.get<std::string>();
  }
  if (!missing.empty()) return add(v, "ops", CheckLevel::kFail, "no kernel here for: " + missing);
  add(v, "ops", CheckLevel::kOk, "all " + std::to_string(rt["ops"].size()) + " required ops have kernels");
}

// The manifest's ISA names ("avx512-vnni", "avx-vnni", "avx2", "x86-64") as levels.
std::optional<runtime::IsaLevel> level_of_isa_name(const std::string& name) {
  if (name == "avx512-vnni" || name == "avx512") return runtime::IsaLevel::kAvx512;
  if (name == "avx-vnni" || name == "avxvnni") return runtime::IsaLevel::kAvxVnni;
  if (name == "avx2") return runtime::IsaLevel::kAvx2;
  if (name == "x86-64" || name == "scalar") return runtime::IsaLevel::kScalar;
  return std::nullopt;
}

void check_isa(VerifiedManifest& v) {
  const runtime::IsaLevel here = runtime::best_isa_level();
  const std::string here_name(runtime::isa_name(here));
  const auto& isa = v.manifest["runtime"]["isa"];
  if (isa.contains("minimum") && isa["minimum"].is_string()) {
    auto minimum = level_of_isa_name(isa["minimum"].get<std::string>());
    if (!minimum) return add(v, "isa", CheckLevel::kFail, "unknown minimum ISA " + isa["minimum"].dump());
    if (!runtime::isa_supported(*minimum))
      return add(v, "isa", CheckLevel::kFail,
                 "the model requires " + isa["minimum"].get<std::string>() + "; this CPU offers " + here_name);
  }
  // The backend the manifest names: a CPU level above this machine's runs on the best level
  // here, which is slower.
  auto wanted = cpu_backend_level(v.deployment.backend);
  if (!wanted) return add(v, "isa", CheckLevel::kFail, "unknown backend '" + v.deployment.backend + "' (cpu, cpu-scalar, cpu-avx2, cpu-avxvnni, cpu-avx512)");
  const runtime::IsaLevel use = runtime::clamp_isa_level(*wanted);
  v.backend_used = cpu_backend_name(use);
  if (use != *wanted)
    return add(v, "isa", CheckLevel::kWarn,
               "the manifest names backend " + v.deployment.backend + "; this CPU offers " + here_name + ", so " + v.backend_used +
                   " runs it: the slower path");
  std::string preferred;
  if (isa.contains("preferred") && isa["preferred"].is_array() && !isa["preferred"].empty() && isa["preferred"][0].is_string())
    preferred = isa["preferred"][0].get<std::string>();
  auto best_wanted = level_of_isa_name(preferred);
  if (best_wanted && static_cast<int>(*best_wanted) > static_cast<int>(use))
    return add(v, "isa", CheckLevel::kWarn,
               "the model prefers " + preferred + "; this CPU runs the " + std::string(runtime::isa_name(use)) +
                   " kernels (the slower path)");
  add(v, "isa", CheckLevel::kOk, "backend " + v.backend_used + " (this CPU: " + here_name + ")");
}

}  // namespace

bool VerifiedManifest::runnable() const {
  return std::none_of(checks.begin(), checks.end(), [](const ManifestCheck& c) { return c.level == CheckLevel::kFail; });
}

const char* check_level_name(CheckLevel level) {
  return level == CheckLevel::kOk ? "ok" : level == CheckLevel::kWarn ? "warn" : "fail";
}

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int clamp_threads(int requested, int cores) { return requested <= 0 ? cores : std::min(requested, cores); }

Result<nlohmann::json> load_manifest(const std::string& path) {
  // A regular file under the size cap, nesting bounded, the keys ember-rt relies on present.
  EMBER_ASSIGN_OR_RETURN(nlohmann::json m, formats::read_manifest(path));
  static const nlohmann::json schema = nlohmann::json::parse(manifest_schema_text());
  Status valid = formats::validate_json(m, schema);
  if (!valid.ok()) return invalid_input("manifest " + path + " does not follow schemas/manifest.schema.json: " + valid.message());
  return m;
}

Result<VerifiedManifest> verify_manifest(const std::string& manifest_path, const std::string& model_path, int requested_threads) {
  VerifiedManifest v;
  EMBER_ASSIGN_OR_RETURN(v.manifest, load_manifest(manifest_path));
  EMBER_ASSIGN_OR_RETURN(v.deployment, formats::deployment_from_manifest(v.manifest));
  add(v, "schema", CheckLevel::kOk, "valid against ember.manifest/1");
  check_model(v, manifest_path, model_path);
  check_ops(v);
  check_isa(v);
  const int cores = available_cores();
  const int wanted = requested_threads > 0 ? requested_threads : v.deployment.threads;
  v.threads_used = clamp_threads(wanted, cores);
  if (wanted > cores)
    add(v, "threads", CheckLevel::kWarn,
        std::to_string(wanted) + " threads asked, " + std::to_string(cores) + " cores available: using " + std::to_string(v.threads_used));
  else
    add(v, "threads", CheckLevel::kOk, "using " + std::to_string(v.threads_used) + " of " + std::to_string(cores) + " cores");
  const auto& q = v.manifest["quality"];
  if (!q["budget_met"].get<bool>())
    add(v, "budget", CheckLevel::kWarn,
        "the accuracy budget was NOT met at compression (" + q["metric"].get<std::string>() + " " + q["compressed"].dump() + ", limit " +
            (q.contains("limit") ? q["limit"].dump() : q["budget"].dump()) + "): this is a best-effort model");
  else
    add(v, "budget", CheckLevel::kOk, "accuracy budget met (" + q["metric"].get<std::string>() + " " + q["compressed"].dump() + ")");
  return v;
}

nlohmann::json verified_to_json(const VerifiedManifest& v) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : v.checks) checks.push_back({{"check", c.name}, {"level", check_level_name(c.level)}, {"detail", c.detail}});
  return {{"runnable", v.runnable()}, {"backend", v.backend_used}, {"threads", v.threads_used},
          {"checks", checks}, {"deployment", formats::deployment_to_json(v.deployment)}};
}

Status first_failure(const VerifiedManifest& v) {
  for (const auto& c : v.checks)
    if (c.level == CheckLevel::kFail) return invalid_input(c.name + ": " + c.detail);
  return Status::Ok();
}

}  // namespace ember::deploy

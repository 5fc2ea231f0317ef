// The manifest, obeyed: schema validation, hash, ops, ISA/backend, threads, budget, and the
// file limits.
#include <doctest/doctest.h>

#include "deploy/manifest_check.h"
#include "formats/manifest_io.h"
#include "formats/sha256.h"
#include "tests/unit/deploy/deploy_test_util.h"

namespace ember::deploy {
namespace {

using json = nlohmann::json;
using test::ScratchDir;

const std::string kModel = std::string(EMBER_SOURCE_DIR) + "/samples/digits-cnn.onnx";

json minimal_manifest() {
  return {{"schema", "ember.manifest/1"},
          {"tool", {{"name", "ember"}, {"version", "0.1.0"}}},
          {"model", {{"file", "digits-cnn.onnx"}, {"sha256", *formats::sha256_file(kModel)}, {"bytes", std::filesystem::file_size(kModel)}}},
          {"pipeline", "dce"},
          {"calibration", {{"source", "x"}, {"hash", "sha256:" + std::string(64, 'a')}, {"rows", 1}}},
          {"quality", {{"metric", "accuracy"}, {"fp32", 0.98}, {"compressed", 0.97}, {"budget", 0.01}, {"budget_met", true}}},
          {"tensors", json::array()},
          {"op_counts", json::object()},
          {"runtime", {{"ops", {"Conv", "Relu", "Gemm"}}, {"weight_dtypes", {"f32"}}, {"isa", {{"minimum", "x86-64"}}}}},
          {"energy", {{"fp32_microjoules", 1.0}, {"compressed_microjoules", 0.5}}}};
}

const ManifestCheck* find(const VerifiedManifest& v, const std::string& name) {
  for (const auto& c : v.checks)
    if (c.name == name) return &c;
  return nullptr;
}

TEST_CASE("manifest: a good manifest verifies, with the threads clamped to the cores") {
  ScratchDir dir("manifest");
  json m = minimal_manifest();
  m["deployment"] = {{"threads", 1000}, {"scheduler", {{"max_batch", 4}}}};
  auto v = verify_manifest(dir.write("m.json", m.dump()), kModel, 0);
  REQUIRE_MESSAGE(v.ok(), v.status().message());
  CHECK(v->runnable());
  CHECK(v->threads_used == available_cores());
  CHECK(find(*v, "threads")->level == CheckLevel::kWarn);
  CHECK(v->deployment.scheduler.max_batch == 4);
  CHECK(v->deployment.scheduler.urgent_reserved_share == doctest::Approx(0.2));
  CHECK(find(*v, "budget")->level == CheckLevel::kOk);
  CHECK(verified_to_json(*v)["threads"] == v->threads_used);
}

TEST_CASE("manifest: a missed budget warns, and a wrong hash, a missing kernel or an unknown backend fails") {
  ScratchDir dir("manifest-bad");
  json m = minimal_manifest();
  m["quality"]["budget_met"] = false;
  m["model"]["sha256"] = std::string(64, '0');
  m["runtime"]["ops"].push_back("com.example.FluxCapacitor");
  m["deployment"] = {{"backend", "tpu-v9"}};
  auto v = verify_manifest(dir.write("m.json", m.dump()), kModel, 2);
  REQUIRE(v.ok());
  CHECK(!v->runnable());
  CHECK(find(*v, "budget")->level == CheckLevel::kWarn);
  CHECK(find(*v, "sha256")->level == CheckLevel::kFail);
  CHECK(find(*v, "ops")->detail.find("com.example.FluxCapacitor") != std::string::npos);
  CHECK(find(*v, "isa")->detail.find("tpu-v9") != std::string::npos);
  CHECK(first_failure(*v).message().find("sha256") != std::string::npos);
}

TEST_CASE("manifest: model.bytes is checked before the hash (formats::verify_manifest_model)") {
  ScratchDir dir("manifest-bytes");
  json m = minimal_manifest();
  m["model"]["bytes"] = 1;
  auto v = verify_manifest(dir.write("m.json", m.dump()), kModel, 0);
  REQUIRE(v.ok());
  CHECK(!v->runnable());
  CHECK(find(*v, "sha256")->detail.find("describes a model of 1 bytes") != std::string::npos);
}

TEST_CASE("manifest: schema violations, non-regular and oversized files are errors naming the place") {
  ScratchDir dir("manifest-schema");
  json m = minimal_manifest();
  m["deployment"] = {{"scheduler", {{"max_batch", 0}}}};
  auto v = verify_manifest(dir.write("m.json", m.dump()), kModel, 0);
  REQUIRE(!v.ok());
  CHECK(v.status().message().find("/deployment/scheduler/max_batch") != std::string::npos);
  m = minimal_manifest();
  m["deployment"] = {{"colour", "red"}};
  CHECK(!verify_manifest(dir.write("m2.json", m.dump()), kModel, 0).ok());
  m = minimal_manifest();
  m.erase("runtime");
  CHECK(verify_manifest(dir.write("m3.json", m.dump()), kModel, 0).status().message().find("runtime") != std::string::npos);
  CHECK(verify_manifest(dir.path().string(), kModel, 0).status().message().find("is a directory") != std::string::npos);
  CHECK(!verify_manifest(dir.write("m4.json", "{\"schema\": "), kModel, 0).ok());
  const std::string big = dir.write("big.json", "");
  std::filesystem::resize_file(big, formats::kMaxManifestBytes + 1);
  CHECK(verify_manifest(big, kModel, 0).status().message().find("more than the") != std::string::npos);
}

}  // namespace
}  // namespace ember::deploy

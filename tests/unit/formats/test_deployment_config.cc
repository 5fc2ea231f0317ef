// The manifest's deployment section: one struct read, checked and written by one table.
#include <doctest/doctest.h>

#include <cmath>

#include "formats/deployment_config.h"

namespace ember::formats {
namespace {

using json = nlohmann::json;

std::string error_of(const json& section) {
  auto c = deployment_from_manifest({{"deployment", section}});
  REQUIRE(!c.ok());
  return c.status().message();
}

TEST_CASE("deployment config: defaults, a full round trip, and the old scheduler.threads") {
  auto defaults = deployment_from_manifest(json::object());
  REQUIRE(defaults.ok());
  CHECK(defaults->scheduler.max_batch == 8);
  CHECK(defaults->thermal.threshold_c == 85);
  CHECK(validate_deployment(*defaults).ok());

  DeploymentConfig c;
  c.backend = "cpu-avx2";
  c.threads = 3;
  c.scheduler.policy = "fifo";
  c.scheduler.max_batch = 4;
  c.scheduler.urgent_reserved_share = 0.25;
  c.scheduler.queue_capacity = {5, 6, 7};
  c.power.source = "estimate";
  c.thermal.enabled = false;
  c.thermal.sensor = "/sys/class/thermal/thermal_zone0/temp";
  c.thermal.threshold_c = 70.5;
  const json written = deployment_to_json(c);
  CHECK(written["scheduler"]["queue_capacity"]["low"] == 7);
  CHECK(written["thermal"]["threshold_c"] == 70.5);
  auto back = deployment_from_manifest({{"deployment", written}});
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  CHECK(deployment_to_json(*back) == written);
  CHECK(back->scheduler.queue_capacity[1] == 6);
  CHECK(back->thermal.sensor == "/sys/class/thermal/thermal_zone0/temp");

  auto old = deployment_from_manifest({{"scheduler", {{"policy", "static-order"}, {"threads", 2}}}});
  REQUIRE(old.ok());
  CHECK(old->threads == 2);
}

TEST_CASE("deployment config: wrong types, unknown keys and out-of-range values name the key") {
  CHECK(error_of({{"scheduler", {{"max_batch", 0}}}}).find("deployment.scheduler.max_batch: 0 is outside [1, 256]") != std::string::npos);
  CHECK(error_of({{"scheduler", {{"max_batch", 4.5}}}}).find("expected an integer") != std::string::npos);
  CHECK(error_of({{"scheduler", {{"max_batch", 1e300}}}}).find("max_batch") != std::string::npos);
  CHECK(error_of({{"scheduler", {{"max_batch", json(uint64_t(1) << 63)}}}}).find("is outside") != std::string::npos);
  CHECK(error_of({{"threads", -1}}).find("deployment.threads: -1") != std::string::npos);
  CHECK(error_of({{"scheduler", 5}}).find("deployment.scheduler: expected an object") != std::string::npos);
  CHECK(error_of({{"scheduler", {{"queue_capacity", {{"urgent", 0}}}}}}).find("queue_capacity.urgent") != std::string::npos);
  CHECK(error_of({{"scheduler", {{"queue_capacity", {{"vip", 3}}}}}}).find("queue_capacity.vip: not a key") != std::string::npos);
  CHECK(error_of({{"colour", "red"}}).find("deployment.colour: not a key") != std::string::npos);
  CHECK(error_of({{"backend", "CPU!"}}).find("lowercase name") != std::string::npos);
  CHECK(error_of({{"scheduler", {{"policy", "lifo"}}}}).find("not one of priority, fifo") != std::string::npos);
  CHECK(error_of({{"thermal", {{"enabled", "yes"}}}}).find("expected a boolean") != std::string::npos);
  CHECK(error_of({{"thermal", {{"threshold_c", 151}}}}).find("thermal.threshold_c") != std::string::npos);
  CHECK(error_of(json::array()).find("expected an object") != std::string::npos);
  CHECK(!deployment_from_manifest({{"scheduler", {{"threads", "two"}}}}).ok());
}

TEST_CASE("deployment config: a manifest names sysfs files only (the sensor, the power root)") {
  for (const char* path : {"/etc/shadow", "temp", "../x", "/sys/../etc/passwd", "/sys/class/..", "/system/x", "sys/class"}) {
    CHECK(error_of({{"thermal", {{"sensor", path}}}}).find("is outside /sys") != std::string::npos);
    CHECK(error_of({{"power", {{"sysfs_root", path}}}}).find("deployment.power.sysfs_root") != std::string::npos);
  }
  for (const char* path : {"", "/sys", "/sys/class/thermal/thermal_zone3/temp", "/sys/devices/virtual/thermal/x..y/temp"}) {
    auto c = deployment_from_manifest({{"deployment", {{"thermal", {{"sensor", path}}}, {"power", {{"sysfs_root", path}}}}}});
    CHECK_MESSAGE(c.ok(), path);
  }
  DeploymentConfig options;  // values from the command line are the user's own
  options.thermal.sensor = "/tmp/fake-sensor";
  CHECK(validate_deployment(options).ok());
}

TEST_CASE("deployment config: validate_deployment checks values set from options, NaN included") {
  DeploymentConfig c;
  c.scheduler.urgent_reserved_share = std::nan("");
  CHECK(validate_deployment(c).message().find("urgent_reserved_share: nan is outside [0, 0.9]") != std::string::npos);
  c = DeploymentConfig{};
  c.thermal.poll_ms = 5;
  CHECK(validate_deployment(c).message().find("deployment.thermal.poll_ms: 5 is outside [10, 60000]") != std::string::npos);
  c = DeploymentConfig{};
  c.scheduler.workers = 257;
  CHECK(!validate_deployment(c).ok());
}

TEST_CASE("deployment config: tiers by name") {
  CHECK(*parse_tier("urgent") == Tier::kUrgent);
  CHECK(std::string(tier_name(Tier::kLow)) == "low");
  CHECK(parse_tier("asap").status().message().find("asap") != std::string::npos);
}

}  // namespace
}  // namespace ember::formats

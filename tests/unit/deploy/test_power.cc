// The energy readers on fake sysfs trees: RAPL with a wrap-around, hwmon energy and power, and
// none (the energy model's estimate).
#include <doctest/doctest.h>

#include <thread>

#include "deploy/power.h"
#include "deploy/session.h"
#include "tests/unit/deploy/deploy_test_util.h"

namespace ember::deploy {
namespace {

using test::ScratchDir;

TEST_CASE("power: counter_delta handles the RAPL wrap-around") {
  CHECK(counter_delta(100, 250, 1000) == 150);
  CHECK(counter_delta(900, 50, 1000) == 150);  // 900 -> 1000 (100) then 0 -> 50
  CHECK(counter_delta(900, 50, 0) == 0);       // a reset with no known range counts nothing
}

TEST_CASE("power: RAPL package zones are summed, sub-zones ignored, and a wrap is measured") {
  ScratchDir sys("rapl");
  const std::string pkg0 = sys.write("class/powercap/intel-rapl:0/energy_uj", "262143000000\n");
  sys.write("class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
  sys.write("class/powercap/intel-rapl:0:0/energy_uj", "5\n");  // core sub-zone: part of the package
  const std::string pkg1 = sys.write("class/powercap/intel-rapl:1/energy_uj", "1000\n");
  sys.write("class/powercap/intel-rapl:1/max_energy_range_uj", "262143328850\n");
  const EnergySource source = find_energy_source(sys.path().string());
  REQUIRE(source.kind == EnergySourceKind::kRapl);
  CHECK(source.files.size() == 2);
  CHECK(source.description == "rapl:intel-rapl:0+intel-rapl:1");
  EnergyMeter meter(source);
  CHECK(meter.measured());
  sys.write("class/powercap/intel-rapl:0/energy_uj", "1671150\n");  // wrapped: 328850 + 1671150 = 2 J
  sys.write("class/powercap/intel-rapl:1/energy_uj", "3001000\n");  // +3 J
  auto joules = meter.total_joules();
  REQUIRE(joules.ok());
  CHECK(*joules == doctest::Approx(5.0));
  sys.write("class/powercap/intel-rapl:1/energy_uj", "4001000\n");
  CHECK(*meter.total_joules() == doctest::Approx(6.0));
}

TEST_CASE("power: an unreadable RAPL counter falls through to hwmon energy") {
  ScratchDir sys("hwmon");
  sys.write("class/powercap/intel-rapl:0/energy_uj/not-a-file", "");  // a directory: cannot be read as a number
  sys.write("class/hwmon/hwmon0/temp1_input", "40000\n");
  sys.write("class/hwmon/hwmon1/energy1_input", "5000000\n");
  const EnergySource source = find_energy_source(sys.path().string());
  REQUIRE(source.kind == EnergySourceKind::kHwmonEnergy);
  CHECK(source.description == "hwmon:hwmon1/energy1_input");
  EnergyMeter meter(source);
  sys.write("class/hwmon/hwmon1/energy1_input", "7500000\n");
  CHECK(*meter.total_joules() == doctest::Approx(2.5));
}

TEST_CASE("power: hwmon power is integrated over time") {
  ScratchDir sys("hwmon-power");
  sys.write("class/hwmon/hwmon0/power1_input", "10000000\n");  // 10 W
  const EnergySource source = find_energy_source(sys.path().string());
  REQUIRE(source.kind == EnergySourceKind::kHwmonPower);
  EnergyMeter meter(source);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double j = *meter.total_joules();
  CHECK(j > 0.4);  // 10 W over at least 50 ms
  CHECK(j < 50);
}

TEST_CASE("power: no counters means estimated, with the reason") {
  ScratchDir sys("none");
  const EnergySource source = find_energy_source(sys.path().string());
  CHECK(source.kind == EnergySourceKind::kNone);
  CHECK(source.description == "energy-model");
  CHECK(source.why_not_measured.find("intel-rapl") != std::string::npos);
  EnergyMeter meter(source);
  CHECK(!meter.measured());
  CHECK(*meter.total_joules() == 0);
}

TEST_CASE("power: a session reads the meter of its sysfs root and labels its energy measured") {
  ScratchDir sys("session");
  sys.write("class/powercap/intel-rapl:0/energy_uj", "1000\n");
  sys.write("class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
  SessionOptions o;
  o.model_path = std::string(EMBER_SOURCE_DIR) + "/samples/digits-cnn.onnx";
  o.threads = 1;
  o.sysfs_root = sys.path().string();
  auto session = Session::open(o);
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  const std::map<std::string, Tensor> feeds = {{"image", Tensor::zeros(DType::kF32, {1, 1, 8, 8})}};
  REQUIRE((*session)->run(feeds).ok());
  EnergyReport r = (*session)->energy();
  CHECK(r.measured);
  CHECK(r.source == "rapl:intel-rapl:0");
  CHECK(r.inferences == 1);
  CHECK(r.joules == 0);  // the fake counter did not move
  o.measure_power = false;
  auto estimated = Session::open(o);
  REQUIRE(estimated.ok());
  REQUIRE((*estimated)->run(feeds).ok());
  r = (*estimated)->energy();
  CHECK(!r.measured);
  CHECK(r.source == "energy-model");
  CHECK(r.joules > 0);  // the energy model prices the convolutions' and matrix products' work
}

}  // namespace
}  // namespace ember::deploy

// The scheduler on digits-cnn: every request answered, dynamic batching, bounded queues,
// deadlines, the thermal gate pausing the low tier while urgent work is still served, drain.
#include <doctest/doctest.h>

#include "deploy/scheduler.h"
#include "deploy/thermal.h"
#include "tests/unit/deploy/deploy_test_util.h"

namespace ember::deploy {
namespace {

using namespace std::chrono_literals;

std::vector<std::unique_ptr<Session>> workers(int n) {
  SessionOptions o;
  o.model_path = std::string(EMBER_SOURCE_DIR) + "/samples/digits-cnn.onnx";
  o.threads = 1;
  o.dynamic_batch = true;
  o.measure_power = false;
  auto first = Session::open(o);
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  std::vector<std::unique_ptr<Session>> out;
  out.push_back(std::move(*first));
  for (int i = 1; i < n; ++i) {
    auto clone = out.front()->clone();
    REQUIRE(clone.ok());
    out.push_back(std::move(*clone));
  }
  return out;
}

Feeds image(float v) { return {{"image", Tensor::from_vector<float>({1, 1, 8, 8}, std::vector<float>(64, v))}}; }

TEST_CASE("thermal: the gate throttles above the threshold and restores below it minus the hysteresis") {
  ThermalConfig c;
  c.threshold_c = 85;
  c.hysteresis_c = 5;
  ThermalGate gate(c);
  CHECK(!gate.update(84));
  CHECK(gate.update(86));
  CHECK(gate.throttled());
  CHECK(!gate.update(81));  // inside the hysteresis band: still throttled
  CHECK(gate.throttled());
  CHECK(gate.update(79.5));
  CHECK(!gate.throttled());
  CHECK(gate.transitions() == 2);
}

TEST_CASE("thermal: the sensor reads a named file or the hottest thermal zone") {
  test::ScratchDir sys("thermal");
  sys.write("class/thermal/thermal_zone0/temp", "41000\n");
  sys.write("class/thermal/thermal_zone1/temp", "67500\n");
  ThermalConfig c;
  auto zones = ThermalSensor::open(c, sys.path().string());
  REQUIRE_MESSAGE(zones.ok(), zones.status().message());
  CHECK(*zones->read_celsius() == doctest::Approx(67.5));
  c.sensor = sys.write("sensor", "90000");
  auto file = ThermalSensor::open(c, "/nonexistent");
  REQUIRE(file.ok());
  CHECK(*file->read_celsius() == doctest::Approx(90));
  c.sensor = sys.write("bad", "hot");
  CHECK(!ThermalSensor::open(c, "").ok());
  c.sensor.clear();
  CHECK(!ThermalSensor::open(c, (sys.path() / "empty").string()).ok());
}

TEST_CASE("scheduler: short requests are batched, every request is answered, results match") {
  Metrics metrics;
  SchedulerConfig sc;
  sc.max_batch = 4;
  sc.max_queue_delay_us = 200000;  // long enough that all eight queue before the first batch closes
  Scheduler scheduler(sc, ThermalConfig{}, workers(2), metrics);
  std::vector<std::future<InferResult>> results;
  for (int i = 0; i < 8; ++i) {
    auto s = scheduler.submit(Tier::kNormal, image(0.1f * static_cast<float>(i % 2)), 10s);
    REQUIRE(s.outcome == SubmitOutcome::kQueued);
    results.push_back(std::move(s.result));
  }
  int batched = 0;
  std::vector<float> first_logit(2);
  for (int i = 0; i < 8; ++i) {
    InferResult r = results[i].get();
    REQUIRE_MESSAGE(r.status.ok(), r.status.message());
    REQUIRE(r.outputs[0].shape() == Shape{1, 10});
    if (r.batch_size > 1) ++batched;
    if (i < 2) first_logit[i] = r.outputs[0].data<float>()[0];
    else CHECK(r.outputs[0].data<float>()[0] == doctest::Approx(first_logit[i % 2]).epsilon(1e-4));
  }
  CHECK(batched >= 4);
  CHECK(metrics.prometheus_text().find("ember_batch_size_count") != std::string::npos);
}

TEST_CASE("scheduler: a full queue rejects at once, and a queued request past its deadline times out") {
  Metrics metrics;
  SchedulerConfig sc;
  sc.queue_capacity = {1, 1, 1};
  sc.max_batch = 1;
  Scheduler scheduler(sc, ThermalConfig{}, workers(2), metrics);
  scheduler.set_throttled(true);  // the low tier is paused: its request stays queued
  auto first = scheduler.submit(Tier::kLow, image(0), 30ms);
  REQUIRE(first.outcome == SubmitOutcome::kQueued);
  CHECK(scheduler.submit(Tier::kLow, image(0), 10s).outcome == SubmitOutcome::kQueueFull);
  InferResult r = first.result.get();
  CHECK(r.timed_out);
  CHECK(r.status.message().find("low queue") != std::string::npos);
  const std::string text = metrics.prometheus_text();
  CHECK(text.find("ember_rejections_total{tier=\"low\",reason=\"queue_full\"} 1") != std::string::npos);
  CHECK(text.find("outcome=\"timeout\"") != std::string::npos);
}

TEST_CASE("scheduler: while throttled the low tier waits and urgent is served, restoring runs low, drain answers all") {
  Metrics metrics;
  SchedulerConfig sc;
  sc.max_batch = 1;
  Scheduler scheduler(sc, ThermalConfig{}, workers(2), metrics);
  scheduler.set_throttled(true);
  CHECK(scheduler.state().active == 1);
  auto low = scheduler.submit(Tier::kLow, image(0.5f), 10s);
  auto urgent = scheduler.submit(Tier::kUrgent, image(0.5f), 10s);
  CHECK(urgent.result.get().status.ok());
  CHECK(low.result.wait_for(50ms) == std::future_status::timeout);
  CHECK(scheduler.state().queued[int(Tier::kLow)] == 1);
  scheduler.set_throttled(false);
  CHECK(low.result.get().status.ok());
  std::vector<std::future<InferResult>> pending;
  for (int i = 0; i < 6; ++i) pending.push_back(scheduler.submit(Tier(i % 3), image(0.2f), 10s).result);
  scheduler.drain();
  for (auto& f : pending) CHECK(f.get().status.ok());
  CHECK(scheduler.submit(Tier::kUrgent, image(0), 10s).outcome == SubmitOutcome::kShuttingDown);
}

}  // namespace
}  // namespace ember::deploy

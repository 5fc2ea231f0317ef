// The expected-accuracy fidelity metric (calibration/fidelity.h): the accuracy a classifier is
// expected to lose if labels followed the FP32 model's own probabilities,
// mean over rows of p(argmax FP32) - p(argmax candidate), p = softmax(FP32 logits).
#include <doctest/doctest.h>

#include <cmath>

#include "calibration/fidelity.h"

namespace ember::expected_accuracy_test {
namespace {

using calibration::FidelityMeter;
using calibration::FidelityMetric;

double drop(const std::vector<float>& r, const Shape& rs, const std::vector<float>& c, const Shape& cs) {
  FidelityMeter meter(FidelityMetric::kExpectedAccuracy);
  meter.add(r, rs, c, cs);
  return meter.value();
}

}  // namespace

TEST_CASE("expected-accuracy: identical and same-argmax candidates lose nothing") {
  const std::vector<float> r = {0.5f, 2.0f, -1.0f, 3.0f, 0.0f, 1.0f};
  CHECK(drop(r, {2, 3}, r, {2, 3}) == 0.0);
  // Other logits with the same argmax per row: still no accuracy expected to be lost, although
  // kl would count the changed distribution.
  const std::vector<float> c = {0.0f, 9.0f, 0.0f, 1.0f, 0.9f, 0.0f};
  CHECK(drop(r, {2, 3}, c, {2, 3}) == 0.0);
  FidelityMeter kl(FidelityMetric::kKl);
  kl.add(r, {2, 3}, c, {2, 3});
  CHECK(kl.value() > 0.01);
}

TEST_CASE("expected-accuracy: a flip of a near-tie row costs almost nothing, a confident flip its gap") {
  // Near tie: logits [1.00, 0.99, -5]: p = [0.5016, 0.4966, 0.0012]; the candidate picks class 1.
  const std::vector<float> tie = {1.00f, 0.99f, -5.0f}, tie_flipped = {0.99f, 1.00f, -5.0f};
  const double tie_drop = drop(tie, {1, 3}, tie_flipped, {1, 3});
  CHECK(tie_drop > 0);
  CHECK(tie_drop < 0.006);
  // By hand: p_0 - p_1 = (e^1 - e^0.99) / (e^1 + e^0.99 + e^-5).
  const double z = std::exp(1.0) + std::exp(0.99) + std::exp(-5.0);
  CHECK(tie_drop == doctest::Approx((std::exp(1.0) - std::exp(0.99)) / z).epsilon(1e-5));
  // Confident: logits [0, ln 9]: p = [0.1, 0.9]; a candidate that picks class 0 loses 0.8.
  const std::vector<float> sure = {0.0f, std::log(9.0f)}, sure_flipped = {1.0f, 0.0f};
  CHECK(drop(sure, {1, 2}, sure_flipped, {1, 2}) == doctest::Approx(0.8).epsilon(1e-6));
  // top1 counts both flips alike; expected-accuracy tells them apart. Mean over the two rows:
  FidelityMeter meter(FidelityMetric::kExpectedAccuracy);
  meter.add({1.00f, 0.99f, 0.0f, std::log(9.0f)}, {2, 2}, {0.99f, 1.00f, 1.0f, 0.0f}, {2, 2});
  const double p_tie = 1.0 / (1.0 + std::exp(-0.01));  // softmax([1.00, 0.99])_0
  CHECK(meter.value() == doctest::Approx(((2 * p_tie - 1) + 0.8) / 2).epsilon(1e-5));
  CHECK(meter.rows() == 2);
}

TEST_CASE("expected-accuracy: ties take the first index, like top1") {
  // Reference tie [2, 2]: argmax 0; a candidate picking 1 loses p_0 - p_1 = 0.
  CHECK(drop({2.0f, 2.0f}, {1, 2}, {0.0f, 1.0f}, {1, 2}) == 0.0);
  CHECK(calibration::row_expected_accuracy_drop(std::vector<float>{3, 1, 3}.data(), std::vector<float>{3, 1, 3}.data(), 3) == 0.0);
}

TEST_CASE("expected-accuracy: an output whose shape changed scores as a uniform guess") {
  // p = [1/4, 3/4]: a candidate that knows nothing is right with probability 1/2: drop 0.25.
  const std::vector<float> r = {0, std::log(3.0f)};
  CHECK(drop(r, {1, 2}, {1, 2, 3}, {1, 3}) == doctest::Approx(0.25).epsilon(1e-6));
  CHECK(drop(r, {1, 2}, {}, {0}) == doctest::Approx(0.25).epsilon(1e-6));
  // A same-shape candidate that picks the wrong class loses more (0.5): knowing nothing is a
  // coin toss, not a confident mistake.
  CHECK(drop(r, {1, 2}, {5.0f, 0.0f}, {1, 2}) == doctest::Approx(0.5).epsilon(1e-6));
}

TEST_CASE("expected-accuracy: name, direction and an empty meter") {
  auto parsed = calibration::parse_fidelity_metric("expected-accuracy");
  REQUIRE(parsed.ok());
  CHECK(*parsed == FidelityMetric::kExpectedAccuracy);
  CHECK(std::string(calibration::fidelity_metric_name(FidelityMetric::kExpectedAccuracy)) == "expected-accuracy");
  CHECK(!calibration::higher_is_better(FidelityMetric::kExpectedAccuracy));
  CHECK(!calibration::parse_fidelity_metric("expected_accuracy").ok());
  CHECK(FidelityMeter(FidelityMetric::kExpectedAccuracy).value() == 0.0);
}

}  // namespace ember::expected_accuracy_test

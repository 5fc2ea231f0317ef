// Observers: per-tensor and per-channel ranges, every method on ordinary and degenerate
// data, and clear errors for NaN, inf and unsupported types.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>

#include "calibration/observer.h"
#include "tests/unit/calibration/calib_test_util.h"

using namespace ember;
using namespace ember::calibration;
using namespace ember::calib_test;

namespace {

ObserverOptions with_method(CalibrationMethod m) {
  ObserverOptions o;
  o.method = m;
  return o;
}

const CalibrationMethod kAllMethods[] = {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile,
                                         CalibrationMethod::kEntropy, CalibrationMethod::kMse};

void check_valid(const RangeStats& r) {
  CHECK(std::isfinite(r.clip_lo));
  CHECK(std::isfinite(r.clip_hi));
  CHECK(r.clip_lo <= 0);
  CHECK(r.clip_hi >= 0);
  CHECK(r.clip_lo >= std::min(r.min, 0.0));
  CHECK(r.clip_hi <= std::max(r.max, 0.0));
}

}  // namespace

TEST_CASE("observer: method names parse and print") {
  for (CalibrationMethod m : kAllMethods) CHECK(*parse_calibration_method(calibration_method_name(m)) == m);
  CHECK(parse_calibration_method("kl").status().code() == StatusCode::kInvalidInput);
}

TEST_CASE("observer: min/max over batches, per tensor") {
  Observer o("x", with_method(CalibrationMethod::kMinMax));
  REQUIRE(o.observe(Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})).ok());
  REQUIRE(o.observe(Tensor::from_vector<float>({3}, {-5, 0, 2})).ok());
  auto r = o.result();
  REQUIRE(r.ok());
  CHECK(r->count == 7);
  CHECK(r->tensor.min == -5);
  CHECK(r->tensor.max == 4);
  CHECK(r->tensor.clip_lo == -5);
  CHECK(r->tensor.clip_hi == 4);
  CHECK(r->channels.empty());
}

TEST_CASE("observer: clip ranges always contain zero") {
  Observer o("relu_out", with_method(CalibrationMethod::kMinMax));
  REQUIRE(o.observe(Tensor::from_vector<float>({3}, {2, 3, 4})).ok());
  CHECK(o.result()->tensor.clip_lo == 0);
  CHECK(o.result()->tensor.clip_hi == 4);
}

TEST_CASE("observer: per channel on the last axis and on axis 1 of NCHW") {
  ObserverOptions opts = with_method(CalibrationMethod::kMinMax);
  opts.channel_axis = -1;
  Observer last("tokens", opts);
  // [2 rows, 3 channels]
  REQUIRE(last.observe(Tensor::from_vector<float>({2, 3}, {1, -10, 100, 2, 10, -100})).ok());
  auto r = last.result();
  REQUIRE(r.ok());
  REQUIRE(r->channels.size() == 3);
  CHECK(r->channels[0].min == 1);
  CHECK(r->channels[0].max == 2);
  CHECK(r->channels[1].min == -10);
  CHECK(r->channels[1].max == 10);
  CHECK(r->channels[2].min == -100);
  CHECK(r->channels[2].max == 100);
  CHECK(r->tensor.min == -100);

  opts.channel_axis = 1;
  Observer nchw("image", opts);
  // [N=2, C=2, HW=2]: channel 0 holds 0..3 range, channel 1 holds -8..-5
  REQUIRE(nchw.observe(Tensor::from_vector<float>({2, 2, 2}, {0, 1, -5, -6, 2, 3, -7, -8})).ok());
  auto rn = nchw.result();
  REQUIRE(rn->channels.size() == 2);
  CHECK(rn->channels[0].min == 0);
  CHECK(rn->channels[0].max == 3);
  CHECK(rn->channels[1].min == -8);
  CHECK(rn->channels[1].max == -5);
  CHECK(rn->channels[1].clip_hi == 0);  // zero included
}

TEST_CASE("observer: per-channel errors name the value") {
  ObserverOptions opts;
  opts.channel_axis = 3;
  Observer o("h", opts);
  Status s = o.observe(Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}));
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("'h'") != std::string::npos);
  opts.channel_axis = -1;
  Observer changing("h2", opts);
  REQUIRE(changing.observe(Tensor::from_vector<float>({1, 3}, {1, 2, 3})).ok());
  s = changing.observe(Tensor::from_vector<float>({1, 4}, {1, 2, 3, 4}));
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("'h2'") != std::string::npos);
}

TEST_CASE("observer: NaN, inf and integer tensors are clear errors") {
  Observer o("attn.softmax", with_method(CalibrationMethod::kEntropy));
  Status s = o.observe(Tensor::from_vector<float>({3}, {1, NAN, 2}));
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("'attn.softmax'") != std::string::npos);
  CHECK(s.message().find("NaN") != std::string::npos);
  CHECK(s.message().find("element 1") != std::string::npos);
  s = o.observe(Tensor::from_vector<float>({2}, {-INFINITY, 2}));
  CHECK(s.message().find("inf") != std::string::npos);
  s = o.observe(Tensor::from_vector<int64_t>({2}, {1, 2}));
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("i64") != std::string::npos);
  CHECK(o.result().status().code() == StatusCode::kInvalidInput);  // nothing observed
}

TEST_CASE("observer: half-precision values are observed") {
  Tensor h = Tensor::zeros(DType::kF16, {2});
  h.mutable_data<uint16_t>()[0] = float_to_half(-1.5f);
  h.mutable_data<uint16_t>()[1] = float_to_half(3.0f);
  Observer o("h16", with_method(CalibrationMethod::kMinMax));
  REQUIRE(o.observe(h).ok());
  CHECK(o.result()->tensor.min == -1.5);
  CHECK(o.result()->tensor.max == 3.0);
}

TEST_CASE("observer: every method on degenerate data, per tensor and per channel") {
  const std::vector<Tensor> cases = {
      Tensor::from_vector<float>({2, 3}, {0, 0, 0, 0, 0, 0}),              // all zeros
      Tensor::from_vector<float>({2, 3}, {4, 4, 4, 4, 4, 4}),              // constant
      Tensor::from_vector<float>({2, 3}, {-FLT_MAX, 0, 1e-30f, FLT_MAX, 1, -1}),  // huge range
      Tensor::from_vector<float>({2, 3}, {1e-38f, 2e-38f, 0, 3e-38f, 0, 1e-38f}),  // tiny range
  };
  for (CalibrationMethod m : kAllMethods)
    for (size_t i = 0; i < cases.size(); ++i) {
      CAPTURE(calibration_method_name(m));
      CAPTURE(i);
      ObserverOptions opts = with_method(m);
      opts.channel_axis = -1;
      Observer o("v", opts);
      REQUIRE(o.observe(cases[i]).ok());
      REQUIRE(o.observe(cases[i]).ok());
      auto r = o.result();
      REQUIRE(r.ok());
      check_valid(r->tensor);
      REQUIRE(r->channels.size() == 3);
      for (const auto& c : r->channels) check_valid(c);
    }
}

TEST_CASE("observer: methods on transformer-like activations (outlier channels)") {
  Rng rng(21);
  // 64 tokens x 32 channels, channel 5 carries outliers 40x larger.
  std::vector<Observer> observers;
  for (CalibrationMethod m : kAllMethods) observers.emplace_back("ln_out", with_method(m));
  for (int batch = 0; batch < 4; ++batch) {
    std::vector<float> v = normals(rng, 64 * 32);
    for (int t = 0; t < 64; ++t) v[static_cast<size_t>(t * 32 + 5)] *= 40;
    const Tensor x = Tensor::from_vector<float>({64, 32}, v);
    for (auto& o : observers) REQUIRE(o.observe(x).ok());
  }
  const RangeStats minmax = observers[0].result()->tensor;
  for (size_t i = 1; i < observers.size(); ++i) {
    CAPTURE(i);
    const RangeStats r = observers[i].result()->tensor;
    check_valid(r);
    CHECK(r.clip_hi <= minmax.clip_hi);
    CHECK(r.clip_hi > 1.0);  // never clips the body of the distribution
  }
}

TEST_CASE("observer: percentile keeps the requested share") {
  Rng rng(22);
  std::vector<float> v(100000);
  for (auto& x : v) x = static_cast<float>(rng.uniform());
  ObserverOptions opts = with_method(CalibrationMethod::kPercentile);
  opts.percentile = 99.0;
  Observer o("u", opts);
  REQUIRE(o.observe(Tensor::from_vector<float>({100000}, v)).ok());
  CHECK(o.result()->tensor.clip_hi == doctest::Approx(0.99).epsilon(0.005));
  CHECK(o.result()->tensor.clip_lo == 0);
}

TEST_CASE("observer: option checks") {
  ObserverOptions o;
  o.percentile = 40;
  CHECK(check_observer_options(o).code() == StatusCode::kInvalidInput);
  o.percentile = 99.9;
  o.bins = 3;
  CHECK(check_observer_options(o).code() == StatusCode::kInvalidInput);
  o.bins = 0;
  CHECK(check_observer_options(o).ok());
}

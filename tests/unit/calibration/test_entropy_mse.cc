// Entropy (KL) thresholds and MSE-optimal clipping: sensible choices on known distributions,
// no crash or NaN on degenerate histograms.
#include <doctest/doctest.h>

#include <cmath>

#include "calibration/entropy.h"
#include "calibration/mse_clip.h"
#include "tests/unit/calibration/calib_test_util.h"

using namespace ember;
using namespace ember::calibration;
using namespace ember::calib_test;

TEST_CASE("entropy: a Gaussian with rare far outliers is clipped well inside the outliers") {
  Rng rng(11);
  StreamingHistogram h(4096);
  std::vector<float> v = normals(rng, 200000);
  for (int i = 0; i < 5; ++i) v.push_back(60.0f);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const double t = entropy_threshold_bins(h.magnitude_counts()) * h.bin_width();
  CHECK(t > 2.5);
  CHECK(t < 20.0);
}

TEST_CASE("entropy: uniform data keeps (nearly) its whole range") {
  Rng rng(12);
  std::vector<float> v(100000);
  for (auto& x : v) x = static_cast<float>(rng.uniform());
  StreamingHistogram h(2048);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const double t = entropy_threshold_bins(h.magnitude_counts()) * h.bin_width();
  CHECK(t >= 0.9);
  CHECK(t <= 1.0 + 2 * h.bin_width());
}

TEST_CASE("entropy: degenerate histograms give a threshold, never a crash") {
  CHECK(entropy_threshold_bins({}) == 0.0);
  CHECK(entropy_threshold_bins(std::vector<double>(2048, 0.0)) == 2048.0);  // no mass
  CHECK(entropy_threshold_bins(std::vector<double>(100, 1.0)) == 100.0);    // fewer bins than levels
  std::vector<double> spike(2048, 0.0);
  spike[0] = 1e6;  // all mass in the first bin (e.g. a mostly-zero tensor)
  const double s = entropy_threshold_bins(spike);
  CHECK(s >= 128);
  CHECK(s <= 2048);
  std::vector<double> two(2048, 0.0);
  two[3] = 1000;
  two[2047] = 1000;  // a real second mode far away must be kept
  CHECK(entropy_threshold_bins(two) == 2048.0);
}

TEST_CASE("entropy: too few values for the bins are coarsened instead of clipped on noise") {
  Rng rng(16);
  std::vector<float> v = normals(rng, 600);
  StreamingHistogram h(4096);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const std::vector<double> mags = h.magnitude_counts();
  CHECK(entropy_threshold_bins(mags) == static_cast<double>(mags.size()));
}

TEST_CASE("entropy: smoothed KL divergence") {
  const std::vector<double> p = {1, 2, 3, 0}, q = {1, 2, 3, 0};
  CHECK(smoothed_kl_divergence(p, q) == doctest::Approx(0.0).epsilon(1e-9));
  const double apart = smoothed_kl_divergence({1, 0}, {0, 1});
  CHECK(std::isfinite(apart));
  CHECK(apart > 1);
  CHECK(std::isinf(smoothed_kl_divergence({0, 0}, {1, 1})));
}

TEST_CASE("mse: uniform data keeps its range, rounding error matches step^2 / 12") {
  Rng rng(13);
  std::vector<float> v(100000);
  for (auto& x : v) x = static_cast<float>(rng.uniform() * 2 - 1);
  StreamingHistogram h(4096);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const ValueRange r = mse_optimal_clip(h, 255);
  CHECK(r.hi >= 0.95);
  CHECK(r.lo <= -0.95);
  const double step = (h.max() - h.min()) / 255;
  CHECK(quantization_mse(h, {h.min(), h.max()}, 255) == doctest::Approx(step * step / 12).epsilon(0.1));
}

TEST_CASE("mse: a far outlier among many values is clipped") {
  // Keeping one value at 1000 widens the step for everyone: (1005 / 255)^2 / 12 = 1.29 per
  // value; clipping it at T costs (1000 - T)^2 / 1e6 per value, so the optimum is inside.
  Rng rng(14);
  std::vector<float> v = normals(rng, 1000000);
  v.push_back(1000.0f);
  StreamingHistogram h(4096);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const ValueRange r = mse_optimal_clip(h, 255);
  CHECK(r.hi < 800);
  CHECK(r.hi > 100);
  CHECK(r.lo == doctest::Approx(h.min()));
  CHECK(quantization_mse(h, r, 255) < 0.8 * quantization_mse(h, {h.min(), h.max()}, 255));
}

TEST_CASE("mse: constant data gives a range that holds the constant and zero") {
  StreamingHistogram h(256);
  const std::vector<float> c(10, -2.5f);
  h.add(c.data(), 10);
  const ValueRange r = mse_optimal_clip(h, 255);
  CHECK(r.lo == -2.5);
  CHECK(r.hi == 0.0);
}

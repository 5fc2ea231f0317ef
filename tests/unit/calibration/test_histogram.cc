// StreamingHistogram: counts survive re-binning exactly, quantiles match sorted data within
// a bin, and degenerate data (constants, zeros, huge and tiny ranges) works.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <numeric>

#include "calibration/histogram.h"
#include "tests/unit/calibration/calib_test_util.h"

using namespace ember;
using namespace ember::calibration;
using namespace ember::calib_test;

namespace {

uint64_t sum_counts(const StreamingHistogram& h) {
  return std::accumulate(h.counts().begin(), h.counts().end(), uint64_t{0});
}

// The exact q-quantile of the data (nearest rank), for comparison.
double sorted_quantile(std::vector<float> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

TEST_CASE("histogram: growing ranges re-bin without losing or moving counts") {
  Rng rng(1);
  StreamingHistogram h(256);
  std::vector<float> all;
  // Each batch is wider than the last and shifted, so the range grows on both sides.
  for (int batch = 0; batch < 12; ++batch) {
    std::vector<float> v = normals(rng, 1000, 1 << batch);
    for (auto& x : v) x += static_cast<float>(batch % 2 ? -3 * batch : 5 * batch);
    h.add(v.data(), static_cast<int64_t>(v.size()));
    all.insert(all.end(), v.begin(), v.end());
    CHECK(sum_counts(h) == static_cast<uint64_t>(h.total()));
    CHECK(h.origin() <= h.min());
    CHECK(h.origin() + h.num_bins() * h.bin_width() >= h.max());
  }
  CHECK(h.total() == 12000);
  CHECK(h.min() == *std::min_element(all.begin(), all.end()));
  CHECK(h.max() == *std::max_element(all.begin(), all.end()));
  // Every value lies in the bin the histogram says it does: recount from scratch.
  std::vector<uint64_t> recount(static_cast<size_t>(h.num_bins()), 0);
  for (float x : all) {
    const double idx = std::floor((x - h.origin()) / h.bin_width());
    ++recount[static_cast<size_t>(std::clamp(idx, 0.0, h.num_bins() - 1.0))];
  }
  size_t mismatched = 0;
  for (int i = 0; i < h.num_bins(); ++i) mismatched += recount[static_cast<size_t>(i)] != h.counts()[static_cast<size_t>(i)];
  // Bin edges are recomputed in floating point; only values on an edge may land next door.
  CHECK(mismatched <= 4);
}

TEST_CASE("histogram: quantiles agree with the sorted data within one bin") {
  Rng rng(2);
  StreamingHistogram h(4096);
  std::vector<float> all;
  for (int batch = 0; batch < 8; ++batch) {
    std::vector<float> v = normals(rng, 5000);
    v.push_back(static_cast<float>(40 + batch));  // a growing outlier
    h.add(v.data(), static_cast<int64_t>(v.size()));
    all.insert(all.end(), v.begin(), v.end());
  }
  for (double q : {0.0001, 0.01, 0.25, 0.5, 0.75, 0.99, 0.9999}) {
    CAPTURE(q);
    CHECK(std::fabs(h.quantile(q) - sorted_quantile(all, q)) <= 2 * h.bin_width() + 1e-3);
  }
  CHECK(h.quantile(0) == doctest::Approx(h.min()));
  CHECK(h.quantile(1) == doctest::Approx(h.max()));
}

TEST_CASE("histogram: constant data has no bins until a second value arrives") {
  StreamingHistogram h(64);
  const std::vector<float> sevens(100, 7.0f);
  h.add(sevens.data(), 100);
  CHECK(h.is_constant());
  CHECK(h.total() == 100);
  CHECK(h.quantile(0.5) == 7.0);
  CHECK(h.magnitude_counts() == std::vector<double>{100.0});
  const std::vector<float> other = {-1.0f};
  h.add(other.data(), 1);
  CHECK_FALSE(h.is_constant());
  CHECK(sum_counts(h) == 101);
  CHECK(h.min() == -1.0);
  CHECK(h.max() == 7.0);
  CHECK(h.quantile(0.5) == doctest::Approx(7.0).epsilon(0.05));

  StreamingHistogram zeros(64);
  const std::vector<float> z(50, 0.0f);
  zeros.add(z.data(), 50);
  CHECK(zeros.is_constant());
  CHECK(zeros.quantile(0.999) == 0.0);
}

TEST_CASE("histogram: huge and tiny dynamic ranges") {
  StreamingHistogram wide(128);
  const std::vector<float> extremes = {-FLT_MAX, 0.0f, 1e-30f, FLT_MAX};
  wide.add(extremes.data(), 4);
  CHECK(sum_counts(wide) == 4);
  CHECK(std::isfinite(wide.bin_width()));
  CHECK(wide.quantile(1) == doctest::Approx(static_cast<double>(FLT_MAX)));

  StreamingHistogram narrow(128);
  std::vector<float> near_billion;
  for (int i = 0; i < 100; ++i) near_billion.push_back(1e9f + static_cast<float>(i) * 64.0f);  // float spacing at 1e9 is 64
  narrow.add(near_billion.data(), 100);
  CHECK(sum_counts(narrow) == 100);
  CHECK(narrow.bin_width() > 0);
  CHECK(narrow.quantile(0.5) == doctest::Approx(1e9 + 50 * 64.0).epsilon(1e-6));

  // Growing from a tiny range to a huge one takes many doublings and stays exact.
  StreamingHistogram grow(64);
  const std::vector<float> tiny = {1e-20f, 2e-20f};
  grow.add(tiny.data(), 2);
  const std::vector<float> big = {-1e20f};
  grow.add(big.data(), 1);
  CHECK(sum_counts(grow) == 3);
  CHECK(grow.origin() <= -1e20);
}

TEST_CASE("histogram: magnitude counts fold both signs and keep the total") {
  Rng rng(3);
  StreamingHistogram h(1000);
  std::vector<float> v = normals(rng, 20000);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const std::vector<double> mags = h.magnitude_counts();
  CHECK(std::accumulate(mags.begin(), mags.end(), 0.0) == doctest::Approx(20000.0));
  // |x| of a standard normal: about 68% below 1.
  double below_one = 0;
  for (size_t i = 0; i < mags.size(); ++i)
    if ((static_cast<double>(i) + 1) * h.bin_width() <= 1.0) below_one += mags[i];
  CHECK(below_one / 20000 == doctest::Approx(0.683).epsilon(0.03));
}

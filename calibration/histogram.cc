#include "calibration/histogram.h"

#include <algorithm>
#include <cmath>

namespace ember::calibration {

StreamingHistogram::StreamingHistogram(int bins) : counts_(static_cast<size_t>(std::max(bins, 2)), 0) {}

int StreamingHistogram::bin_of(double v) const {
  const double index = std::floor((v - origin_) * inv_width_);
  const double last = static_cast<double>(counts_.size() - 1);
  // Values are inside [origin, origin + bins * width] up to rounding; clamp the rounding away.
  return static_cast<int>(std::clamp(index, 0.0, last));
}

void StreamingHistogram::double_width(double needed_lo) {
  const int64_t bins = static_cast<int64_t>(counts_.size());
  int64_t highest = 0;
  for (int64_t i = bins - 1; i >= 0; --i)
    if (counts_[static_cast<size_t>(i)]) {
      highest = i;
      break;
    }
  // Shift the origin left by k old bins to reach needed_lo, but never so far that the
  // highest occupied bin falls off the top: (highest + k) / 2 must stay below `bins`.
  int64_t k = 0;
  if (needed_lo < origin_) {
    const double shift = std::ceil((origin_ - needed_lo) * inv_width_);
    k = shift >= static_cast<double>(2 * bins) ? 2 * bins : static_cast<int64_t>(shift);
  }
  k = std::clamp<int64_t>(k, 0, 2 * bins - 1 - highest);
  std::vector<uint64_t> merged(counts_.size(), 0);
  for (int64_t i = 0; i < bins; ++i) merged[static_cast<size_t>((i + k) / 2)] += counts_[static_cast<size_t>(i)];
  counts_ = std::move(merged);
  origin_ -= static_cast<double>(k) * width_;
  width_ *= 2;
  inv_width_ = 1 / width_;
}

void StreamingHistogram::cover(double lo, double hi) {
  const bool held_constant = total_ > 0 && width_ == 0;
  const double constant_value = min_;
  if (total_ == 0) {
    min_ = lo;
    max_ = hi;
  } else {
    min_ = std::min(min_, lo);
    max_ = std::max(max_, hi);
  }
  const double bins = static_cast<double>(counts_.size());
  if (width_ == 0) {
    if (min_ == max_) return;
    width_ = (max_ - min_) / bins;
    inv_width_ = 1 / width_;
    origin_ = min_;
    if (held_constant) counts_[static_cast<size_t>(bin_of(constant_value))] += static_cast<uint64_t>(total_);
    return;
  }
  while (min_ < origin_ || max_ > origin_ + bins * width_) double_width(min_);
}

void StreamingHistogram::add_runs(const float* base, int64_t runs, int64_t run_length, int64_t run_stride) {
  if (runs <= 0 || run_length <= 0) return;
  float lo = base[0], hi = base[0];
  for (int64_t r = 0; r < runs; ++r) {
    const float* p = base + r * run_stride;
    for (int64_t i = 0; i < run_length; ++i) {
      lo = std::min(lo, p[i]);
      hi = std::max(hi, p[i]);
    }
  }
  cover(lo, hi);
  if (width_ > 0) {
    for (int64_t r = 0; r < runs; ++r) {
      const float* p = base + r * run_stride;
      for (int64_t i = 0; i < run_length; ++i) ++counts_[static_cast<size_t>(bin_of(p[i]))];
    }
  }
  total_ += runs * run_length;
}

std::vector<double> StreamingHistogram::magnitude_counts() const {
  if (total_ == 0) return {};
  if (width_ == 0) return {static_cast<double>(total_)};
  const double top = std::max(std::fabs(min_), std::fabs(max_));
  const size_t m = static_cast<size_t>(std::max(1.0, std::ceil(top * inv_width_)));
  std::vector<double> mags(m, 0.0);
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (!counts_[i]) continue;
    const double c = static_cast<double>(counts_[i]);
    const double a = origin_ + static_cast<double>(i) * width_, b = a + width_;
    if (a < 0 && b > 0) {  // both halves have magnitudes below one width
      mags[0] += c;
      continue;
    }
    const double start = std::min(std::fabs(a), std::fabs(b)) * inv_width_;  // in units of width
    const double j = std::floor(start);
    const size_t lower = std::min(static_cast<size_t>(j), m - 1);
    const double in_lower = (j + 1) - start;
    mags[lower] += c * in_lower;
    mags[std::min(lower + 1, m - 1)] += c * (1 - in_lower);
  }
  return mags;
}

double StreamingHistogram::quantile(double q) const {
  if (total_ == 0) return 0;
  if (width_ == 0) return min_;
  const double target = std::clamp(q, 0.0, 1.0) * static_cast<double>(total_);
  double cumulative = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    const double c = static_cast<double>(counts_[i]);
    if (c > 0 && cumulative + c >= target) {
      const double fraction = (target - cumulative) / c;
      return std::clamp(origin_ + (static_cast<double>(i) + fraction) * width_, min_, max_);
    }
    cumulative += c;
  }
  return max_;
}

}  // namespace ember::calibration

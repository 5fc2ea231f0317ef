// StreamingHistogram: a fixed number of equal-width bins over a range that grows with the
// data, so percentile, entropy and MSE observers see every value without keeping any.
//
// Growth is exact: when a value falls outside the bins, the width doubles and pairs of old
// bins merge into one new bin (the origin moves by whole old bins), repeated until the new
// range fits. Counts are never interpolated, so total() always equals the values seen.
// Until two distinct values have been seen there is no width; the histogram then holds a
// single value and its count (constant tensors are common: masks, padding, biases).
// Edges are doubles, so ranges such as [-3e38, 3e38] and [1e9, 1e9 + 1e-3] both work.
// Callers pass finite values only (the observer rejects NaN and inf with the tensor's name).
#pragma once
#include <cstdint>
#include <vector>

namespace ember::calibration {

// A closed range of real values, e.g. a clip range [lo, hi].
struct ValueRange {
  double lo = 0;
  double hi = 0;
};

class StreamingHistogram {
 public:
  explicit StreamingHistogram(int bins = 4096);

  // Adds `runs` runs of `run_length` contiguous values, run r starting at base + r * run_stride.
  // A plain array is one run; one channel of an [outer, C, inner] tensor is `outer` runs of
  // `inner` values with stride C * inner.
  void add_runs(const float* base, int64_t runs, int64_t run_length, int64_t run_stride);
  void add(const float* values, int64_t n) { add_runs(values, 1, n, n); }

  int64_t total() const { return total_; }
  bool empty() const { return total_ == 0; }
  double min() const { return min_; }  // exact extremes of the values seen
  double max() const { return max_; }
  // True while every value seen is the same (no bins yet).
  bool is_constant() const { return width_ == 0; }

  int num_bins() const { return static_cast<int>(counts_.size()); }
  double origin() const { return origin_; }  // left edge of bin 0
  double bin_width() const { return width_; }
  const std::vector<uint64_t>& counts() const { return counts_; }
  double bin_center(int i) const { return origin_ + (i + 0.5) * width_; }

  // Counts of |x| in bins [i*w, (i+1)*w) with w = bin_width(), covering [0, max|x|]. A signed
  // bin that straddles 0 is split between the two sides in proportion to its overlap.
  std::vector<double> magnitude_counts() const;
  // The value below which a fraction q (0..1) of the data lies, interpolated within a bin
  // and clamped to [min, max].
  double quantile(double q) const;

 private:
  // Makes [lo, hi] fit inside the bins (creating them on the first non-constant range).
  void cover(double lo, double hi);
  void double_width(double needed_lo);
  int bin_of(double v) const;

  std::vector<uint64_t> counts_;
  double origin_ = 0;
  double width_ = 0;
  double inv_width_ = 0;
  double min_ = 0, max_ = 0;
  int64_t total_ = 0;
};

}  // namespace ember::calibration

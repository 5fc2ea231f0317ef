#include "calibration/mse_clip.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::calibration {
namespace {

ValueRange with_zero(double lo, double hi) { return {std::min(lo, 0.0), std::max(hi, 0.0)}; }

ValueRange candidate(const StreamingHistogram& h, double threshold) {
  return with_zero(std::max(h.min(), -threshold), std::min(h.max(), threshold));
}

}  // namespace

double quantization_mse(const StreamingHistogram& h, ValueRange range, int levels) {
  if (h.empty() || h.is_constant()) return 0;
  const double step = (range.hi - range.lo) / std::max(levels, 1);
  const double w = h.bin_width();
  double error = 0;
  for (int i = 0; i < h.num_bins(); ++i) {
    const uint64_t count = h.counts()[static_cast<size_t>(i)];
    if (!count) continue;
    const double c = h.bin_center(i);
    double e;
    if (c < range.lo) {
      e = (range.lo - c) * (range.lo - c);
    } else if (c > range.hi) {
      e = (c - range.hi) * (c - range.hi);
    } else if (!(step > 0) || w >= step) {
      e = step * step / 12;
    } else {
      // The grid holds 0 exactly (the zero point is an integer), so it is the multiples of step.
      const double offset = c - std::nearbyint(c / step) * step;
      e = offset * offset + w * w / 12;
    }
    error += static_cast<double>(count) * e;
  }
  return error / static_cast<double>(h.total());
}

ValueRange mse_optimal_clip(const StreamingHistogram& h, int levels, int coarse_steps) {
  if (h.empty() || h.is_constant()) return with_zero(h.min(), h.max());
  const double top = std::max(std::fabs(h.min()), std::fabs(h.max()));
  const int steps = std::max(coarse_steps, 2);
  double best_error = std::numeric_limits<double>::infinity();
  double best_fraction = 1;
  auto consider = [&](double fraction) {
    const double e = quantization_mse(h, candidate(h, fraction * top), levels);
    // Ties go to the wider range: it clips nothing more for the same error.
    if (e < best_error || (e == best_error && fraction > best_fraction)) {
      best_error = e;
      best_fraction = fraction;
    }
  };
  for (int k = steps; k >= 1; --k) consider(static_cast<double>(k) / steps);
  const double coarse = 1.0 / steps, center = best_fraction;
  for (int k = -10; k <= 10; ++k) {
    const double fraction = center + coarse * k / 10;
    if (fraction > 0 && fraction <= 1) consider(fraction);
  }
  return candidate(h, best_fraction * top);
}

}  // namespace ember::calibration

#include "calibration/entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::calibration {
namespace {

// Additive smoothing relative to the mass: large enough to make every log finite, small
// enough not to change which candidate wins when neither has empty bins.
constexpr double kSmoothing = 1e-7;
// Mean count per bin below which the histogram is merged into coarser bins.
constexpr double kMinMeanCount = 16;

}  // namespace

double smoothed_kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double p_sum = 0, q_sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    p_sum += p[i];
    q_sum += q[i];
  }
  if (!(p_sum > 0) || !(q_sum > 0)) return std::numeric_limits<double>::infinity();
  const double n = static_cast<double>(p.size());
  const double p_norm = 1 / (p_sum * (1 + n * kSmoothing)), q_norm = 1 / (q_sum * (1 + n * kSmoothing));
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double pi = (p[i] + kSmoothing * p_sum) * p_norm;
    const double qi = (q[i] + kSmoothing * q_sum) * q_norm;
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

double entropy_threshold_bins(const std::vector<double>& fine, const EntropyOptions& options) {
  const int64_t levels = std::max(options.quantized_bins, 1);
  double total = 0;
  for (double c : fine) total += c;
  // Nothing to clip: fewer bins than levels, or no data at all.
  if (static_cast<int64_t>(fine.size()) <= levels || !(total > 0)) return static_cast<double>(fine.size());
  // Coarsen a sparse histogram first: with few values per bin, KL measures sampling noise
  // (how the values fall into bins) rather than what clipping loses.
  const double fine_bins = static_cast<double>(fine.size());
  const int64_t merge = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(kMinMeanCount * fine_bins / std::max(total, 1.0))));
  if (merge > 1) {
    std::vector<double> coarse((fine.size() + static_cast<size_t>(merge) - 1) / static_cast<size_t>(merge), 0.0);
    for (size_t i = 0; i < fine.size(); ++i) coarse[i / static_cast<size_t>(merge)] += fine[i];
    return std::min(fine_bins, static_cast<double>(merge) * entropy_threshold_bins(coarse, options));
  }
  const std::vector<double>& h = fine;
  const int64_t m = static_cast<int64_t>(h.size());

  std::vector<double> beyond(static_cast<size_t>(m) + 1, 0.0);  // beyond[i] = sum of h[i:]
  for (int64_t i = m - 1; i >= 0; --i) beyond[static_cast<size_t>(i)] = beyond[static_cast<size_t>(i) + 1] + h[static_cast<size_t>(i)];

  const int64_t span = m - levels;
  const int64_t stride = std::max<int64_t>(1, span / std::max(options.max_candidates, 1));
  double best_kl = std::numeric_limits<double>::infinity();
  int64_t best = m;
  std::vector<double> p, q;
  for (int64_t i = levels;; i = std::min(i + stride, m)) {
    p.assign(h.begin(), h.begin() + i);
    p[static_cast<size_t>(i - 1)] += beyond[static_cast<size_t>(i)];
    q.assign(static_cast<size_t>(i), 0.0);
    for (int64_t level = 0; level < levels; ++level) {
      const int64_t start = level * i / levels, end = (level + 1) * i / levels;
      double mass = 0;
      int64_t used = 0;
      for (int64_t k = start; k < end; ++k) {
        mass += h[static_cast<size_t>(k)];
        used += h[static_cast<size_t>(k)] > 0;
      }
      if (!used) continue;
      for (int64_t k = start; k < end; ++k)
        if (h[static_cast<size_t>(k)] > 0) q[static_cast<size_t>(k)] = mass / static_cast<double>(used);
    }
    const double kl = smoothed_kl_divergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best = i;
    }
    if (i == m) break;
  }
  return static_cast<double>(best);
}

}  // namespace ember::calibration

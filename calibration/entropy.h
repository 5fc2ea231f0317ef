// Entropy calibration in the TensorRT style: choose the clip threshold T for |x| whose 8-bit
// quantization loses the least information, measured as KL(P || Q) where
//   P = the magnitude histogram cut at T, with everything beyond T folded into its last bin,
//   Q = the same bins merged into `quantized_bins` levels and expanded back, each level's
//       mass spread evenly over the bins that held data.
// Robust where the usual implementations crash or divide by zero: empty and all-zero
// histograms, histograms with fewer bins than levels, runs of empty bins (both P and Q are
// smoothed additively, so no log of zero), and one value far away from the rest. A sparse
// histogram (fewer than 16 values per bin on average) is merged into coarser bins first, as
// KL over a few scattered values measures sampling noise, not clipping loss; with too few
// values for `quantized_bins` coarse bins, nothing is clipped.
#pragma once
#include <vector>

namespace ember::calibration {

struct EntropyOptions {
  int quantized_bins = 128;  // levels per sign of an 8-bit grid
  int max_candidates = 1024; // thresholds tried, evenly spaced in bins (cost ~ candidates x bins)
};

// `magnitudes[i]` counts values with |x| in [i*w, (i+1)*w). Returns T in units of w (a bin
// edge in (0, magnitudes.size()]); the caller multiplies by the bin width.
double entropy_threshold_bins(const std::vector<double>& magnitudes, const EntropyOptions& options = {});

// KL(P || Q) of two histograms of the same length after normalising and smoothing both.
// Returns +inf when either has no mass.
double smoothed_kl_divergence(const std::vector<double>& p, const std::vector<double>& q);

}  // namespace ember::calibration

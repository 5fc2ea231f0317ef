// MSE-optimal clipping: the clip range whose uniform quantization (`levels` steps over
// [lo, hi], lo <= 0 <= hi so zero stays exact) has the least expected squared error over
// the values in a histogram. Clipping error grows as the range shrinks, rounding error
// (step^2 / 12 per value) shrinks with it; the search tries thresholds T = a * max|x| on a
// coarse grid of a, then refines around the best, with range [max(min, -T), min(max, T)].
#pragma once
#include "calibration/histogram.h"

namespace ember::calibration {

// Expected squared error per value of quantizing the histogram's values to `levels` steps
// over `range`. Bins narrower than a step contribute their exact rounding offset.
double quantization_mse(const StreamingHistogram& histogram, ValueRange range, int levels);

// The best range found; [min, max] widened to include 0 for constant or empty histograms.
ValueRange mse_optimal_clip(const StreamingHistogram& histogram, int levels, int coarse_steps = 100);

}  // namespace ember::calibration

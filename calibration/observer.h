// Observers: streaming statistics of one value over a calibration set, with bounded memory
// (a min/max pair, or a fixed-size histogram, per tensor and per channel); activations are
// never kept. After the last batch, result() gives the observed range and the clip range the
// chosen method prefers:
//   minmax      [min, max]
//   percentile  the (100 - p) and p percentiles (p = 99.99 keeps all but 0.01% on each side)
//   entropy     TensorRT-style KL threshold T on |x| (entropy.h), range [-T, T] ∩ [min, max]
//   mse         the range with the least expected quantization error (mse_clip.h)
// Clip ranges always contain 0, so zero stays exact on an affine integer grid.
// Only float values (f32, f16, bf16, f64) can be observed; NaN or inf is an invalid_input
// error that names the value and the element.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "calibration/histogram.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::calibration {

enum class CalibrationMethod { kMinMax, kPercentile, kEntropy, kMse };
Result<CalibrationMethod> parse_calibration_method(const std::string& name);  // "minmax" | "percentile" | "entropy" | "mse"
std::string calibration_method_name(CalibrationMethod method);
bool method_uses_histogram(CalibrationMethod method);

struct ObserverOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double percentile = 99.99;
  // Per-channel statistics along this axis (negative counts from the end); none: per tensor.
  std::optional<int> channel_axis;
  // Histogram bins per tensor and per channel; 0 picks 4096 per tensor and 2048 per channel.
  // Memory is 8 bytes per bin: per-channel histograms cost channels x bins x 8 bytes.
  int bins = 0;
  int levels = 255;  // steps of the integer grid the clip range is chosen for (8 bits)
};
Status check_observer_options(const ObserverOptions& options);

struct RangeStats {
  double min = 0, max = 0;          // observed extremes
  double clip_lo = 0, clip_hi = 0;  // chosen by the method; clip_lo <= 0 <= clip_hi
};

struct ObserverResult {
  RangeStats tensor;
  int64_t count = 0;                // values observed (per tensor)
  std::optional<int> channel_axis;  // as given in the options
  std::vector<RangeStats> channels; // empty when per tensor
};

// The clip range of `method` for a histogram whose data spans [min, max] (hist may be null
// for minmax). Exposed for tests and for passes that keep their own histograms.
ValueRange choose_clip_range(const StreamingHistogram* hist, double min, double max, const ObserverOptions& options,
                             bool per_channel = false);

class Observer {
 public:
  Observer(std::string value_name, ObserverOptions options);
  Observer(Observer&&) noexcept;
  Observer& operator=(Observer&&) noexcept;
  ~Observer();

  const std::string& value_name() const { return name_; }
  Status observe(const Tensor& value);
  // invalid_input when nothing was observed.
  Result<ObserverResult> result() const;

 private:
  struct Stream;  // min/max and an optional histogram
  Status observe_channels(const float* data, const Shape& shape);

  std::string name_;
  ObserverOptions options_;
  std::unique_ptr<Stream> tensor_;
  std::vector<Stream> channels_;
  int64_t count_ = 0;
};

}  // namespace ember::calibration

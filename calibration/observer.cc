#include "calibration/observer.h"

#include <algorithm>
#include <cmath>

#include "calibration/entropy.h"
#include "calibration/mse_clip.h"

namespace ember::calibration {

Result<CalibrationMethod> parse_calibration_method(const std::string& name) {
  if (name == "minmax") return CalibrationMethod::kMinMax;
  if (name == "percentile") return CalibrationMethod::kPercentile;
  if (name == "entropy") return CalibrationMethod::kEntropy;
  if (name == "mse") return CalibrationMethod::kMse;
  return invalid_input("unknown calibration method '" + name + "' (expected minmax, percentile, entropy or mse)");
}

std::string calibration_method_name(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kEntropy: return "entropy";
    case CalibrationMethod::kMse: return "mse";
  }
  return "minmax";
}

bool method_uses_histogram(CalibrationMethod method) { return method != CalibrationMethod::kMinMax; }

Status check_observer_options(const ObserverOptions& options) {
  if (!(options.percentile > 50 && options.percentile <= 100))
    return invalid_input("percentile must be in (50, 100], got " + std::to_string(options.percentile));
  if (options.bins != 0 && (options.bins < 16 || options.bins > (1 << 22)))
    return invalid_input("histogram bins must be between 16 and 4194304, got " + std::to_string(options.bins));
  if (options.levels < 1) return invalid_input("quantization levels must be positive, got " + std::to_string(options.levels));
  return Status::Ok();
}

ValueRange choose_clip_range(const StreamingHistogram* hist, double min, double max, const ObserverOptions& options,
                             bool per_channel) {
  ValueRange r{min, max};
  const bool have_bins = hist && !hist->empty() && !hist->is_constant();
  if (have_bins) {
    switch (options.method) {
      case CalibrationMethod::kMinMax:
        break;
      case CalibrationMethod::kPercentile: {
        const double tail = 1 - options.percentile / 100;
        r = {hist->quantile(tail), hist->quantile(1 - tail)};
        break;
      }
      case CalibrationMethod::kEntropy: {
        EntropyOptions eo;
        if (per_channel) eo.max_candidates = 128;  // channels x candidates x bins must stay small
        const double t = entropy_threshold_bins(hist->magnitude_counts(), eo) * hist->bin_width();
        r = {std::max(min, -t), std::min(max, t)};
        break;
      }
      case CalibrationMethod::kMse:
        r = mse_optimal_clip(*hist, options.levels, per_channel ? 50 : 100);
        break;
    }
  }
  return {std::min(r.lo, 0.0), std::max(r.hi, 0.0)};
}

struct Observer::Stream {
  explicit Stream(int bins, bool with_histogram) {
    if (with_histogram) hist = std::make_unique<StreamingHistogram>(bins);
  }
  double min = 0, max = 0;
  bool seen = false;
  std::unique_ptr<StreamingHistogram> hist;

  void add_runs(const float* base, int64_t runs, int64_t length, int64_t stride) {
    if (runs <= 0 || length <= 0) return;
    float lo = base[0], hi = base[0];
    for (int64_t r = 0; r < runs; ++r)
      for (int64_t i = 0; i < length; ++i) {
        lo = std::min(lo, base[r * stride + i]);
        hi = std::max(hi, base[r * stride + i]);
      }
    min = seen ? std::min<double>(min, lo) : lo;
    max = seen ? std::max<double>(max, hi) : hi;
    seen = true;
    if (hist) hist->add_runs(base, runs, length, stride);
  }

  RangeStats stats(const ObserverOptions& options, bool per_channel) const {
    const ValueRange clip = choose_clip_range(hist.get(), min, max, options, per_channel);
    return {min, max, clip.lo, clip.hi};
  }
};

Observer::Observer(std::string value_name, ObserverOptions options) : name_(std::move(value_name)), options_(options) {
  const int bins = options_.bins > 0 ? options_.bins : 4096;
  tensor_ = std::make_unique<Stream>(bins, method_uses_histogram(options_.method));
}
Observer::Observer(Observer&&) noexcept = default;
Observer& Observer::operator=(Observer&&) noexcept = default;
Observer::~Observer() = default;

Status Observer::observe_channels(const float* data, const Shape& shape) {
  const int rank = static_cast<int>(shape.size());
  const int axis = *options_.channel_axis < 0 ? *options_.channel_axis + rank : *options_.channel_axis;
  if (axis < 0 || axis >= rank)
    return invalid_input("value '" + name_ + "' has shape " + shape_to_string(shape) + ", which has no channel axis " +
                         std::to_string(*options_.channel_axis));
  const int64_t channels = shape[static_cast<size_t>(axis)];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[static_cast<size_t>(i)];
  for (int i = axis + 1; i < rank; ++i) inner *= shape[static_cast<size_t>(i)];
  if (channels_.empty()) {
    const int bins = options_.bins > 0 ? options_.bins : 2048;
    for (int64_t c = 0; c < channels; ++c) channels_.emplace_back(bins, method_uses_histogram(options_.method));
  } else if (static_cast<int64_t>(channels_.size()) != channels) {
    return invalid_input("value '" + name_ + "' has " + std::to_string(channels) + " channels on axis " + std::to_string(axis) +
                         " in this batch but " + std::to_string(channels_.size()) + " before");
  }
  for (int64_t c = 0; c < channels; ++c) channels_[static_cast<size_t>(c)].add_runs(data + c * inner, outer, inner, channels * inner);
  return Status::Ok();
}

Status Observer::observe(const Tensor& value) {
  const DType d = value.dtype();
  if (d != DType::kF32 && d != DType::kF16 && d != DType::kBF16 && d != DType::kF64)
    return invalid_input("value '" + name_ + "' is " + std::string(dtype_name(d)) + "; only float values can be calibrated");
  std::vector<float> converted;
  const float* data = nullptr;
  if (d == DType::kF32) {
    data = value.data<float>();
  } else {
    EMBER_ASSIGN_OR_RETURN(converted, value.to_floats());
    data = converted.data();
  }
  const int64_t n = value.numel();
  if (n == 0) return Status::Ok();
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(data[i]))
      return invalid_input("value '" + name_ + "' holds " + (std::isnan(data[i]) ? "NaN" : "inf") + " (element " +
                           std::to_string(i) + " of " + shape_to_string(value.shape()) + ")");
  tensor_->add_runs(data, 1, n, n);
  if (options_.channel_axis) EMBER_TRY(observe_channels(data, value.shape()));
  count_ += n;
  return Status::Ok();
}

Result<ObserverResult> Observer::result() const {
  if (count_ == 0) return invalid_input("value '" + name_ + "' was never observed (no elements)");
  ObserverResult r;
  r.tensor = tensor_->stats(options_, false);
  r.count = count_;
  r.channel_axis = options_.channel_axis;
  for (const auto& c : channels_) r.channels.push_back(c.stats(options_, true));
  return r;
}

}  // namespace ember::calibration

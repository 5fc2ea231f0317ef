// Signal ops (opset 17, DFT also 20): HannWindow, HammingWindow, BlackmanWindow, DFT, STFT,
// MelWeightMatrix, with the ONNX reference formulas:
//   Hann 0.5 - 0.5 cos(2 pi n / D); Hamming 25/46 - 21/46 cos(2 pi n / D);
//   Blackman 0.42 - 0.5 cos(2 pi n / D) + 0.08 cos(4 pi n / D); D = N (periodic) or N - 1
//   DFT X[k] = sum_n x[n] e^(-+2 pi i k n / N) (inverse: + and / N), onesided keeps N/2 + 1 bins
//   STFT frames of frame_length every frame_step, multiplied by the window, then a DFT
// Computed in double (the reference computes in numpy's float64); a direct O(N^2) DFT, as
// no real model here spends its time in these ops.
#include <cmath>
#include <functional>
#include <numbers>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

Result<int64_t> read_scalar_int(const RunContext& ctx, size_t index, const std::string& what) {
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> v, read_indices(ctx, index));
  if (v.size() != 1) return invalid_input(ctx.where() + ": " + what + " must hold one value");
  return v[0];
}

Result<double> read_scalar_float(const RunContext& ctx, size_t index) {
  const Tensor& t = ctx.input(index);
  if (t.numel() != 1) return invalid_input(ctx.where() + ": input " + std::to_string(index) + " must hold one value");
  if (t.dtype() == DType::kF32) return double(t.data<float>()[0]);
  if (t.dtype() == DType::kF64) return t.data<double>()[0];
  EMBER_ASSIGN_OR_RETURN(int64_t v, read_scalar_int(ctx, index, "input " + std::to_string(index)));
  return double(v);
}

Status write_doubles(RunContext& ctx, size_t out, DType dtype, Shape shape, const std::vector<double>& v) {
  Tensor& y = ctx.allocate_output(out, dtype, std::move(shape));
  if (dtype == DType::kF32) {
    for (size_t i = 0; i < v.size(); ++i) y.mutable_data<float>()[i] = float(v[i]);
  } else if (dtype == DType::kF64) {
    for (size_t i = 0; i < v.size(); ++i) y.mutable_data<double>()[i] = v[i];
  } else {
    return invalid_input(ctx.where() + ": output type " + std::string(dtype_name(dtype)) + " is not supported");
  }
  return Status::Ok();
}

template <int kKind>  // 0 Hann, 1 Hamming, 2 Blackman
Status run_window(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  EMBER_ASSIGN_OR_RETURN(int64_t n, read_scalar_int(ctx, 0, "size"));
  if (n < 0 || n > (int64_t(1) << 28)) return invalid_input(ctx.where() + ": window size " + std::to_string(n) + " is out of range");
  const bool periodic = ctx.node.attr_int("periodic", 1) != 0;
  const double d = periodic ? double(n) : double(n - 1);
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double a = 2 * std::numbers::pi * double(i) / d;
    w[size_t(i)] = kKind == 0 ? 0.5 - 0.5 * std::cos(a)
                   : kKind == 1 ? 25.0 / 46 - 21.0 / 46 * std::cos(a)
                                : 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a);
  }
  return write_doubles(ctx, 0, static_cast<DType>(ctx.node.attr_int("output_datatype", 1)), {n}, w);
}

// DFT of `length` points read by `at(n)` (complex), giving `bins` outputs.
void dft(const std::function<std::pair<double, double>(int64_t)>& at, int64_t length, int64_t bins, bool inverse,
         std::vector<double>& re, std::vector<double>& im) {
  re.assign(size_t(bins), 0);
  im.assign(size_t(bins), 0);
  const double sign = inverse ? 1 : -1;
  for (int64_t k = 0; k < bins; ++k) {
    double sr = 0, si = 0;
    for (int64_t n = 0; n < length; ++n) {
      const double a = sign * 2 * std::numbers::pi * double((k * n) % length) / double(length);
      const auto [xr, xi] = at(n);
      sr += xr * std::cos(a) - xi * std::sin(a);
      si += xr * std::sin(a) + xi * std::cos(a);
    }
    re[size_t(k)] = inverse ? sr / double(length) : sr;
    im[size_t(k)] = inverse ? si / double(length) : si;
  }
}

class DftKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    opset_ = ctx.opset;
    return Status::Ok();
  }
  Status run(RunContext& ctx) override {
    EMBER_TRY(require_inputs(ctx, 1, 3));
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32 && x.dtype() != DType::kF64) return invalid_input(ctx.where() + ": input must be float");
    const int rank = x.rank();
    if (rank < 2 || (x.dim(rank - 1) != 1 && x.dim(rank - 1) != 2))
      return invalid_input(ctx.where() + ": the last dimension must be 1 (real) or 2 (complex)");
    int64_t axis = ctx.node.attr_int("axis", 1);
    if (opset_ >= 20) {
      axis = -2;
      if (ctx.has_input(2)) {
        EMBER_ASSIGN_OR_RETURN(axis, read_scalar_int(ctx, 2, "axis"));
      }
    }
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank - 1) return invalid_input(ctx.where() + ": axis out of range");
    const int64_t n_in = x.dim(int(axis));
    int64_t length = n_in;
    if (ctx.has_input(1) && ctx.input(1).numel() > 0) {
      EMBER_ASSIGN_OR_RETURN(length, read_scalar_int(ctx, 1, "dft_length"));
    }
    if (length <= 0) return invalid_input(ctx.where() + ": dft_length must be positive");
    const bool inverse = ctx.node.attr_int("inverse", 0) != 0, onesided = ctx.node.attr_int("onesided", 0) != 0;
    const int64_t bins = onesided ? length / 2 + 1 : length;
    const int64_t complex = x.dim(rank - 1);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.dim(int(d));
    for (int64_t d = axis + 1; d < rank - 1; ++d) inner *= x.dim(int(d));
    Shape shape = x.shape();
    shape[size_t(axis)] = bins;
    shape.back() = 2;
    std::vector<double> out(size_t(outer * bins * inner * 2));
    auto value = [&](int64_t i) { return x.dtype() == DType::kF32 ? double(x.data<float>()[i]) : x.data<double>()[i]; };
    std::vector<double> re, im;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        dft([&](int64_t n) -> std::pair<double, double> {
              if (n >= n_in) return {0, 0};
              const int64_t at = ((o * n_in + n) * inner + i) * complex;
              return {value(at), complex == 2 ? value(at + 1) : 0};
            }, length, bins, inverse, re, im);
        for (int64_t k = 0; k < bins; ++k) {
          out[size_t(((o * bins + k) * inner + i) * 2)] = re[size_t(k)];
          out[size_t(((o * bins + k) * inner + i) * 2 + 1)] = im[size_t(k)];
        }
      }
    return write_doubles(ctx, 0, x.dtype(), shape, out);
  }

 private:
  int64_t opset_ = 17;
};

Status run_stft(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 4));
  const Tensor& x = ctx.input(0);
  if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2) || (x.dtype() != DType::kF32 && x.dtype() != DType::kF64))
    return invalid_input(ctx.where() + ": signal must be float [batch, length, 1 or 2]");
  EMBER_ASSIGN_OR_RETURN(int64_t step, read_scalar_int(ctx, 1, "frame_step"));
  const bool has_window = ctx.has_input(2) && ctx.input(2).numel() > 0;
  int64_t frame = has_window ? ctx.input(2).numel() : 0;
  if (ctx.has_input(3)) {
    EMBER_ASSIGN_OR_RETURN(frame, read_scalar_int(ctx, 3, "frame_length"));
  }
  if (step <= 0 || frame <= 0 || frame > x.dim(1) || (has_window && ctx.input(2).numel() != frame))
    return invalid_input(ctx.where() + ": frame_step, frame_length and window do not fit the signal");
  const bool onesided = ctx.node.attr_int("onesided", 1) != 0;
  const int64_t bins = onesided ? frame / 2 + 1 : frame, frames = (x.dim(1) - frame) / step + 1;
  auto value = [](const Tensor& t, int64_t i) { return t.dtype() == DType::kF32 ? double(t.data<float>()[i]) : t.data<double>()[i]; };
  std::vector<double> out(size_t(x.dim(0) * frames * bins * 2)), re, im;
  for (int64_t b = 0; b < x.dim(0); ++b)
    for (int64_t f = 0; f < frames; ++f) {
      dft([&](int64_t n) -> std::pair<double, double> {
            const double w = has_window ? value(ctx.input(2), n) : 1.0;
            const int64_t at = (b * x.dim(1) + f * step + n) * x.dim(2);
            return {value(x, at) * w, x.dim(2) == 2 ? value(x, at + 1) * w : 0};
          }, frame, bins, false, re, im);
      for (int64_t k = 0; k < bins; ++k) {
        out[size_t(((b * frames + f) * bins + k) * 2)] = re[size_t(k)];
        out[size_t(((b * frames + f) * bins + k) * 2 + 1)] = im[size_t(k)];
      }
    }
  return write_doubles(ctx, 0, x.dtype(), {x.dim(0), frames, bins, 2}, out);
}

Status run_mel_weight_matrix(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 5, 5));
  EMBER_ASSIGN_OR_RETURN(int64_t mels, read_scalar_int(ctx, 0, "num_mel_bins"));
  EMBER_ASSIGN_OR_RETURN(int64_t dft_length, read_scalar_int(ctx, 1, "dft_length"));
  EMBER_ASSIGN_OR_RETURN(int64_t rate, read_scalar_int(ctx, 2, "sample_rate"));
  EMBER_ASSIGN_OR_RETURN(double low, read_scalar_float(ctx, 3));
  EMBER_ASSIGN_OR_RETURN(double high, read_scalar_float(ctx, 4));
  if (mels <= 0 || dft_length <= 0 || rate <= 0 || mels > (1 << 16) || dft_length > (1 << 24))
    return invalid_input(ctx.where() + ": num_mel_bins, dft_length and sample_rate must be positive and bounded");
  const int64_t spectrum = dft_length / 2 + 1;
  const double low_mel = 2595 * std::log10(1 + low / 700), high_mel = 2595 * std::log10(1 + high / 700);
  const double mel_step = (high_mel - low_mel) / double(mels + 2);  // as the reference divides
  std::vector<int64_t> bin(static_cast<size_t>(mels + 2));
  for (int64_t i = 0; i < mels + 2; ++i) {
    const double hz = 700 * (std::pow(10.0, (double(i) * mel_step + low_mel) / 2595) - 1);
    bin[size_t(i)] = int64_t(std::floor(double(dft_length + 1) * hz / double(rate)));
  }
  std::vector<double> w(size_t(spectrum * mels), 0.0);
  auto set = [&](int64_t j, int64_t i, double v) {
    if (j >= 0 && j < spectrum) w[size_t(j * mels + i)] = v;
  };
  for (int64_t i = 0; i < mels; ++i) {
    const int64_t lo = bin[size_t(i)], center = bin[size_t(i + 1)], hi = bin[size_t(i + 2)];
    if (center == lo) set(center, i, 1);
    else
      for (int64_t j = lo; j <= center; ++j) set(j, i, double(j - lo) / double(center - lo));
    if (hi > center)
      for (int64_t j = center; j < hi; ++j) set(j, i, double(hi - j) / double(hi - center));
  }
  return write_doubles(ctx, 0, static_cast<DType>(ctx.node.attr_int("output_datatype", 1)), {spectrum, mels}, w);
}

}  // namespace

void register_signal_kernels(KernelRegistry& registry) {
  registry.add_function("HannWindow", "", 17, run_window<0>);
  registry.add_function("HammingWindow", "", 17, run_window<1>);
  registry.add_function("BlackmanWindow", "", 17, run_window<2>);
  registry.add_function("STFT", "", 17, run_stft);
  registry.add_function("MelWeightMatrix", "", 17, run_mel_weight_matrix);
  registry.add("DFT", "", 17, [] { return std::make_unique<DftKernel>(); });
}

}  // namespace ember::runtime

// GridSample (16: 2-D, bilinear/nearest/bicubic; 20: N-D, linear/nearest/cubic), by the ONNX
// reference. Each output point reads normalised coordinates (innermost dim first) from the
// grid and maps them to pixels: align_corners x = (n + 1) / 2 * (d - 1), else
// ((n + 1) * d - 1) / 2. A coordinate outside [x_min, x_max] (0..d-1 or -0.5..d-0.5) is
// clamped (border) or reflected (reflection) first; then linear interpolation sums 2^r
// neighbours, cubic 4^r (Keys, a = -0.75), nearest takes one (round half to even in 2-D,
// half away from zero in 3-D). Neighbours outside the image are 0 (zeros), clamped (border)
// or reflected (reflection).
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

enum class Padding { kZeros, kBorder, kReflection };

double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const int64_t n = int64_t(dx / range);
    const double r = dx - double(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi;
    const int64_t n = int64_t(dx / range);
    const double r = dx - double(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

void cubic_coeffs(double x, double c[4]) {
  const double a = -0.75;
  x = std::fabs(x);
  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

Status run_grid_sample(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  const int r = x.rank() - 2;
  if (x.dtype() != DType::kF32 || grid.dtype() != DType::kF32 || r < 1 || grid.rank() != r + 2 || grid.dim(0) != x.dim(0) ||
      grid.dim(r + 1) != r)
    return invalid_input(ctx.where() + ": X must be float [N, C, d1..dr] and grid [N, D1..Dr, r]");
  std::string mode = ctx.node.attr_string("mode", "bilinear");
  if (mode == "bilinear") mode = "linear";
  if (mode == "bicubic") mode = "cubic";
  if (mode != "linear" && mode != "cubic" && mode != "nearest") return invalid_input(ctx.where() + ": unknown mode '" + mode + "'");
  const std::string pad_name = ctx.node.attr_string("padding_mode", "zeros");
  const Padding pad = pad_name == "border" ? Padding::kBorder : pad_name == "reflection" ? Padding::kReflection : Padding::kZeros;
  const bool align = ctx.node.attr_int("align_corners", 0) != 0;
  const int64_t n = x.dim(0), c = x.dim(1);
  Shape out = {n, c};
  int64_t points = 1;
  for (int d = 0; d < r; ++d) {
    out.push_back(grid.dim(d + 1));
    points *= grid.dim(d + 1);
  }
  std::vector<int64_t> dims(static_cast<size_t>(r)), stride(static_cast<size_t>(r));
  int64_t image = 1;
  for (int d = r - 1; d >= 0; --d) {
    dims[size_t(d)] = x.dim(d + 2);
    stride[size_t(d)] = image;
    image *= dims[size_t(d)];
  }
  Tensor& y = ctx.allocate_output(0, DType::kF32, out);
  const int taps = mode == "cubic" ? 4 : mode == "linear" ? 2 : 1;
  int64_t combos = 1;
  for (int d = 0; d < r; ++d) combos *= taps;
  std::vector<int64_t> base(static_cast<size_t>(r));
  std::vector<double> weights(static_cast<size_t>(r * taps));
  auto pixel_index = [&](int d, int64_t i) -> int64_t {  // -1: zero padding
    const int64_t size = dims[size_t(d)];
    if (pad == Padding::kZeros) return i >= 0 && i < size ? i : -1;
    if (pad == Padding::kBorder) return std::clamp<int64_t>(i, 0, size - 1);
    const double lo = align ? 0.0 : -0.5, hi = align ? double(size - 1) : double(size) - 0.5;
    return std::clamp<int64_t>(int64_t(reflect(double(i), lo, hi)), 0, size - 1);
  };
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < points; ++p) {
      const float* g = grid.data<float>() + (b * points + p) * r;
      for (int d = 0; d < r; ++d) {  // grid holds the innermost dimension first
        const double size = double(dims[size_t(d)]);
        const double norm = g[r - 1 - d];
        double v = align ? (norm + 1) / 2 * (size - 1) : ((norm + 1) * size - 1) / 2;
        if (mode == "nearest") v = r == 3 ? std::round(v) : std::nearbyint(v);
        const double lo = align ? 0.0 : -0.5, hi = align ? size - 1 : size - 0.5;
        if (v < lo || v > hi) v = pad == Padding::kBorder ? std::clamp(v, 0.0, size - 1) : pad == Padding::kReflection ? reflect(v, lo, hi) : v;
        double* w = &weights[size_t(d * taps)];
        if (mode == "nearest") {
          base[size_t(d)] = int64_t(v);
          w[0] = 1;
        } else {
          const double f = std::floor(v);
          base[size_t(d)] = int64_t(f) - (mode == "cubic" ? 1 : 0);
          if (mode == "linear") {
            w[0] = 1 - (v - f);
            w[1] = v - f;
          } else {
            cubic_coeffs(v - f, w);
          }
        }
      }
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* src = x.data<float>() + (b * c + ch) * image;
        double sum = 0;
        for (int64_t k = 0; k < combos; ++k) {
          double w = 1;
          int64_t offset = 0, rest = k;
          for (int d = r - 1; d >= 0 && offset >= 0; --d) {
            const int t = int(rest % taps);
            rest /= taps;
            const int64_t i = pixel_index(d, base[size_t(d)] + t);
            w *= weights[size_t(d * taps + t)];
            offset = i < 0 ? -1 : offset + i * stride[size_t(d)];
          }
          if (offset >= 0) sum += w * src[offset];
        }
        y.mutable_data<float>()[(b * c + ch) * points + p] = float(sum);
      }
    }
  return Status::Ok();
}

}  // namespace

void register_grid_sample_kernels(KernelRegistry& registry) {
  registry.add_function("GridSample", "", 16, with_half_support<run_grid_sample>);
}

}  // namespace ember::runtime

// Backward rule of GridSample in linear and nearest modes (any rank, every padding mode;
// cubic is a cut). Per output point the forward maps each normalised coordinate u to a pixel
// coordinate v = (u + 1) / 2 (d - 1) with align_corners, else ((u + 1) d - 1) / 2; moves v
// into [lo, hi] (clamp for border, reflect for reflection) when outside; then reads the 2^r
// neighbours with weights prod_d w_d, w_d = 1 - (v_d - floor v_d) or v_d - floor v_d.
//   dX[neighbour] += dy prod_d w_d                                    (nearest: weight 1)
//   du_d = sum_ch dy sum_neighbours X[neighbour] (dw_d/dv_d) prod_{e != d} w_e (dv_d/du_d)
// with dw_d/dv_d = -1 or +1, dv/du = (d - 1)/2 or d/2, times 0 where border clamps and -1
// where an odd number of reflections flips v. Nearest sampling is piecewise constant: du = 0.
#include <algorithm>
#include <cmath>

#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

enum class Padding { kZeros, kBorder, kReflection };

bool grid_sample_supported(const ir::Node& node) {
  const std::string mode = node.attr_string("mode", "bilinear");
  return mode == "bilinear" || mode == "linear" || mode == "nearest";
}

// v reflected into [lo, hi] as the forward does, and dv_out/dv_in (+1 or -1).
std::pair<double, double> reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return {lo, 0.0};
  if (x >= lo && x <= hi) return {x, 1.0};
  const bool below = x < lo;
  const double dx = below ? lo - x : x - hi;
  const int64_t n = int64_t(dx / range);
  const double r = dx - double(n) * range;
  if (below) return n % 2 == 0 ? std::pair{lo + r, -1.0} : std::pair{hi - r, 1.0};
  return n % 2 == 0 ? std::pair{hi - r, -1.0} : std::pair{lo + r, 1.0};
}

struct Axis {
  int64_t base;       // first neighbour
  double w[2], dw[2]; // weights of the neighbours, and their derivatives in u
};

struct Sampler {
  std::vector<int64_t> dims, stride;
  Padding pad;
  bool align, nearest;

  Axis axis(int d, double u) const {
    const double size = double(dims[size_t(d)]);
    double v = align ? (u + 1) / 2 * (size - 1) : ((u + 1) * size - 1) / 2;
    double dv = align ? (size - 1) / 2 : size / 2;
    if (nearest) v = dims.size() == 3 ? std::round(v) : std::nearbyint(v);
    const double lo = align ? 0.0 : -0.5, hi = align ? size - 1 : size - 0.5;
    if (v < lo || v > hi) {
      if (pad == Padding::kBorder) v = std::clamp(v, 0.0, size - 1), dv = 0;
      if (pad == Padding::kReflection) {
        const auto [reflected, slope] = reflect(v, lo, hi);
        v = reflected, dv *= slope;
      }
    }
    if (nearest) return {int64_t(v), {1, 0}, {0, 0}};
    const double f = std::floor(v);
    return {int64_t(f), {1 - (v - f), v - f}, {-dv, dv}};
  }
  // The pixel of neighbour coordinate i along axis d, or -1 (zero padding).
  int64_t pixel(int d, int64_t i) const {
    const int64_t size = dims[size_t(d)];
    if (pad == Padding::kZeros) return i >= 0 && i < size ? i : -1;
    if (pad == Padding::kBorder) return std::clamp<int64_t>(i, 0, size - 1);
    const double lo = align ? 0.0 : -0.5, hi = align ? double(size - 1) : double(size) - 0.5;
    return std::clamp<int64_t>(int64_t(reflect(double(i), lo, hi).first), 0, size - 1);
  }
};

GradNeeds grid_sample_needs(const ir::Node&, IndexMask wanted) {
  return {(wanted & bit(1)) ? bit(0) | bit(1) : bit(1), 0};
}

Status grid_sample_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& grid = ctx.input(1);
  EMBER_TRY(require_f32(ctx, grid, "the grid"));
  const Shape& xs = ctx.input_shapes[0];
  const int r = static_cast<int>(xs.size()) - 2;
  if (r < 1 || grid.rank() != r + 2 || grid.dim(r + 1) != r) return invalid_input(ctx.where() + ": bad X or grid shape");
  const std::string pad = ctx.node.attr_string("padding_mode", "zeros");
  Sampler s{{}, {}, pad == "border" ? Padding::kBorder : pad == "reflection" ? Padding::kReflection : Padding::kZeros,
            ctx.node.attr_int("align_corners", 0) != 0, ctx.node.attr_string("mode", "bilinear") == "nearest"};
  s.dims.assign(xs.begin() + 2, xs.end());
  s.stride.assign(size_t(r), 1);
  for (int d = r - 2; d >= 0; --d) s.stride[size_t(d)] = s.stride[size_t(d) + 1] * s.dims[size_t(d) + 1];
  const int64_t n = xs[0], c = xs[1], image = shape_numel(Shape(s.dims.begin(), s.dims.end()));
  const int64_t points = grid.numel() / std::max<int64_t>(1, n * r), combos = int64_t(1) << r;
  const float* x = ctx.wants(1) ? ctx.input(0).data<float>() : nullptr;
  const float* dy = ctx.output_grad(0).data<float>();
  Tensor dx = ctx.zeros(xs), dgrid = ctx.zeros(grid.shape());
  std::vector<Axis> axes(static_cast<size_t>(r));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < points; ++p) {
      const float* g = grid.data<float>() + (b * points + p) * r;
      for (int d = 0; d < r; ++d) axes[size_t(d)] = s.axis(d, g[r - 1 - d]);  // the grid holds the innermost dim first
      for (int64_t k = 0; k < (s.nearest ? 1 : combos); ++k) {
        int64_t offset = 0;
        double w = 1;
        std::vector<double> partial(size_t(r), 1.0);  // prod of the weights, axis d's weight replaced by its derivative
        for (int d = 0; d < r && offset >= 0; ++d) {
          const int t = int((k >> (r - 1 - d)) & 1);
          const int64_t i = s.pixel(d, axes[size_t(d)].base + t);
          offset = i < 0 ? -1 : offset + i * s.stride[size_t(d)];
          for (int e = 0; e < r; ++e) partial[size_t(e)] *= e == d ? axes[size_t(d)].dw[t] : axes[size_t(d)].w[t];
          w *= axes[size_t(d)].w[t];
        }
        if (offset < 0) continue;
        for (int64_t ch = 0; ch < c; ++ch) {
          const float gy = dy[(b * c + ch) * points + p];
          dx.mutable_data<float>()[(b * c + ch) * image + offset] += static_cast<float>(w * gy);
          if (!x) continue;
          const double v = x[(b * c + ch) * image + offset];
          for (int d = 0; d < r; ++d) dgrid.mutable_data<float>()[(b * points + p) * r + (r - 1 - d)] += static_cast<float>(gy * v * partial[size_t(d)]);
        }
      }
    }
  if (ctx.wants(0)) ctx.input_grads[0] = std::move(dx);
  if (ctx.wants(1)) ctx.input_grads[1] = std::move(dgrid);
  return Status::Ok();
}

}  // namespace

void register_grid_sample_grads(GradRegistry& r) {
  r.add("GridSample", bit(0) | bit(1), grid_sample_needs, grid_sample_backward, "", grid_sample_supported);
}

}  // namespace ember::runtime::grad

// Backward rules of convolution and pooling, per image and group through im2col / col2im
// (the adjoint pair of runtime/kernels/im2col.h), so any number of spatial axes works:
//   Conv   Y_g = W_g col(X_g) + B:   dW_g += dY_g col(X_g)^T,   dX_g = col2im(W_g^T dY_g),
//          dB = sum of dY over images and positions
//   MaxPool: dY goes to the first maximal tap of each window (the forward kernel's argmax)
//   AveragePool: dY / divisor to every tap inside the input (divisor as in the forward)
//   GlobalAveragePool: dY / spatial size to every position
//   LpPool, y = (sum over the taps of |x|^p)^(1/p): dx = dy sign(x) (|x| / y)^(p-1) per tap
//   GlobalMaxPool / GlobalLpPool: MaxPool / LpPool with one window covering the whole plane
//   ConvTranspose is the adjoint of the Conv whose input is its output Y and whose weights are
//          its W: Y_g = col2im(W_g^T X_g) + B, so dX_g = W_g col(dY_g), dW_g += X_g col(dY_g)^T
// The column buffer covers a bounded slice of output positions at a time.
#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/gemm/sgemm.h"
#include "runtime/grad/grad_util.h"
#include "runtime/kernels/im2col.h"
#include "runtime/kernels/window_geometry.h"

namespace ember::runtime::grad {
namespace {

GradNeeds conv_needs(const ir::Node&, IndexMask wanted) {
  GradNeeds n;
  if (wanted & bit(0)) n.inputs |= bit(1);
  if (wanted & bit(1)) n.inputs |= bit(0);
  return n;
}

Result<WindowGeometry> conv_geometry(const BackwardContext& ctx, int64_t* group) {
  EMBER_ASSIGN_OR_RETURN(WindowAttrs attrs, read_window_attrs(ctx.node));
  attrs.ceil_mode = false;
  *group = ctx.node.attr_int("group", 1);
  const Shape& x = ctx.input_shapes[0];
  const Shape& w = ctx.input_shapes[1];
  if (x.size() < 3 || w.size() != x.size()) return invalid_input(ctx.where() + ": X and W must be [N, C, spatial...]");
  if (*group < 1 || w[1] * *group != x[1] || w[0] % *group != 0)
    return invalid_input(ctx.where() + ": X and W do not agree with group " + std::to_string(*group));
  return resolve_window(attrs, std::vector<int64_t>(x.begin() + 2, x.end()), std::vector<int64_t>(w.begin() + 2, w.end()),
                        ctx.where());
}

Status conv_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  int64_t group = 1;
  EMBER_ASSIGN_OR_RETURN(WindowGeometry g, conv_geometry(ctx, &group));
  const Shape& xs = ctx.input_shapes[0];
  const Shape& ws = ctx.input_shapes[1];
  const int64_t batch = xs[0], channels = xs[1], maps = ws[0];
  const int64_t cg = channels / group, mg = maps / group;
  const int64_t rows = cg * g.kernel_size(), positions = g.out_size(), in_plane = g.in_size();
  const float* dy = ctx.output_grad(0).data<float>();
  const bool want_x = ctx.wants(0), want_w = ctx.wants(1);
  const float* x = nullptr;
  const float* w = nullptr;
  Tensor dx, dw;
  if (want_x) {
    EMBER_TRY(require_f32(ctx, ctx.input(1), "W"));
    w = ctx.input(1).data<float>();
    dx = ctx.zeros(xs);
  }
  if (want_w) {
    EMBER_TRY(require_f32(ctx, ctx.input(0), "X"));
    x = ctx.input(0).data<float>();
    dw = ctx.zeros(ws);
  }
  if (want_x || want_w) {
    constexpr int64_t kColumnBudget = int64_t{4} << 20;  // floats in the column buffer
    const int64_t chunk = std::clamp<int64_t>(kColumnBudget / std::max<int64_t>(rows, 1), 1, std::max<int64_t>(positions, 1));
    std::vector<float> col(static_cast<size_t>(rows * chunk)), dcol(want_x ? col.size() : 0);
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t grp = 0; grp < group; ++grp) {
        const float* dy_ng = dy + (n * maps + grp * mg) * positions;
        for (int64_t p0 = 0; p0 < positions; p0 += chunk) {
          const int64_t p1 = std::min(positions, p0 + chunk), width = p1 - p0;
          if (want_w) {
            im2col(x + (n * channels + grp * cg) * in_plane, cg, g, p0, p1, col.data());
            sgemm(false, true, mg, rows, width, 1.0f, dy_ng + p0, positions, col.data(), width, 1.0f,
                  dw.mutable_data<float>() + grp * mg * rows, rows, ctx.products);
          }
          if (want_x) {
            sgemm(true, false, rows, width, mg, 1.0f, w + grp * mg * rows, rows, dy_ng + p0, positions, 0.0f, dcol.data(),
                  width, ctx.products);
            col2im_add(dcol.data(), cg, g, p0, p1, dx.mutable_data<float>() + (n * channels + grp * cg) * in_plane);
          }
        }
      }
  }
  if (want_x) ctx.input_grads[0] = std::move(dx);
  if (want_w) ctx.input_grads[1] = std::move(dw);
  if (ctx.wants(2)) {
    std::vector<float> db(static_cast<size_t>(maps), 0.0f);
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t m = 0; m < maps; ++m) {
        double sum = 0;
        const float* p = dy + (n * maps + m) * positions;
        for (int64_t i = 0; i < positions; ++i) sum += p[i];
        db[static_cast<size_t>(m)] += static_cast<float>(sum);
      }
    ctx.input_grads[2] = Tensor::from_vector<float>(ctx.input_shapes[2], db);
  }
  return Status::Ok();
}

// Geometry of the Conv that ConvTranspose is the adjoint of: its input is Y, its output X.
Result<WindowGeometry> conv_transpose_geometry(const BackwardContext& ctx, int64_t* group) {
  EMBER_ASSIGN_OR_RETURN(WindowAttrs attrs, read_window_attrs(ctx.node));
  attrs.ceil_mode = false;
  *group = ctx.node.attr_int("group", 1);
  const Shape& x = ctx.input_shapes[0];
  const Shape& w = ctx.input_shapes[1];
  const Shape& y = ctx.output_shapes[0];
  if (x.size() < 3 || w.size() != x.size() || y.size() != x.size() || *group < 1 || w[0] != x[1] || w[0] % *group != 0)
    return invalid_input(ctx.where() + ": X, W and Y do not agree (group " + std::to_string(*group) + ")");
  if (ctx.node.find_attr("output_shape") || ctx.node.attr_string("auto_pad", "NOTSET") != "NOTSET")
    return unsupported(ctx.where() + ": the backward rule takes explicit pads only (no output_shape, no auto_pad)");
  EMBER_ASSIGN_OR_RETURN(WindowGeometry g, resolve_window(attrs, std::vector<int64_t>(y.begin() + 2, y.end()),
                                                          std::vector<int64_t>(w.begin() + 2, w.end()), ctx.where()));
  if (g.out != std::vector<int64_t>(x.begin() + 2, x.end()))
    return internal_error(ctx.where() + ": the adjoint convolution does not map Y back to X's size");
  return g;
}

Status conv_transpose_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  int64_t group = 1;
  EMBER_ASSIGN_OR_RETURN(WindowGeometry g, conv_transpose_geometry(ctx, &group));
  const Shape& xs = ctx.input_shapes[0];
  const Shape& ws = ctx.input_shapes[1];
  const int64_t batch = xs[0], in_maps = xs[1], out_channels = ws[1] * group;
  const int64_t mg = in_maps / group, cg = ws[1];
  const int64_t rows = cg * g.kernel_size(), positions = g.out_size(), y_plane = g.in_size();
  const float* dy = ctx.output_grad(0).data<float>();
  const bool want_x = ctx.wants(0), want_w = ctx.wants(1);
  Tensor dx = want_x ? ctx.zeros(xs) : Tensor(), dw = want_w ? ctx.zeros(ws) : Tensor();
  if (want_x) EMBER_TRY(require_f32(ctx, ctx.input(1), "W"));
  if (want_w) EMBER_TRY(require_f32(ctx, ctx.input(0), "X"));
  if (want_x || want_w) {
    std::vector<float> col(static_cast<size_t>(rows * positions));
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t grp = 0; grp < group; ++grp) {
        im2col(dy + (n * out_channels + grp * cg) * y_plane, cg, g, 0, positions, col.data());
        if (want_x)
          sgemm(false, false, mg, positions, rows, 1.0f, ctx.input(1).data<float>() + grp * mg * rows, rows, col.data(), positions,
                0.0f, dx.mutable_data<float>() + (n * in_maps + grp * mg) * positions, positions, ctx.products);
        if (want_w)
          sgemm(false, true, mg, rows, positions, 1.0f, ctx.input(0).data<float>() + (n * in_maps + grp * mg) * positions, positions,
                col.data(), positions, 1.0f, dw.mutable_data<float>() + grp * mg * rows, rows, ctx.products);
      }
  }
  if (want_x) ctx.input_grads[0] = std::move(dx);
  if (want_w) ctx.input_grads[1] = std::move(dw);
  if (ctx.wants(2)) {
    std::vector<float> db(static_cast<size_t>(out_channels), 0.0f);
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t m = 0; m < out_channels; ++m) {
        double sum = 0;
        for (int64_t i = 0; i < y_plane; ++i) sum += dy[(n * out_channels + m) * y_plane + i];
        db[static_cast<size_t>(m)] += static_cast<float>(sum);
      }
    ctx.input_grads[2] = Tensor::from_vector<float>(ctx.input_shapes[2], db);
  }
  return Status::Ok();
}

// Calls tap(input_offset) for every tap of output position `out` that lies inside the input,
// in the forward kernel's order; returns the count of taps inside the padded input.
template <class F>
int64_t for_each_tap(const WindowGeometry& g, int64_t out, F&& tap) {
  const size_t rank = static_cast<size_t>(g.rank());
  std::vector<int64_t> o(rank), first(rank), k(rank, 0);
  for (size_t a = rank; a-- > 0;) {
    o[a] = out % g.out[a];
    out /= g.out[a];
    first[a] = o[a] * g.stride[a] - g.pad_begin[a];
  }
  int64_t padded = 1;
  for (size_t a = 0; a < rank; ++a) {
    int64_t inside = 0;
    for (int64_t t = 0; t < g.kernel[a]; ++t) {
      const int64_t i = first[a] + t * g.dilation[a];
      inside += i >= -g.pad_begin[a] && i < g.in[a] + g.pad_end[a];
    }
    padded *= inside;
  }
  do {
    int64_t offset = 0;
    bool valid = true;
    for (size_t a = 0; a < rank && valid; ++a) {
      const int64_t i = first[a] + k[a] * g.dilation[a];
      valid = i >= 0 && i < g.in[a];
      offset = offset * g.in[a] + i;
    }
    if (valid) tap(offset);
  } while (im2col_detail::next_offset(g, k));
  return padded;
}

Result<WindowGeometry> pool_geometry(const BackwardContext& ctx, bool global) {
  const Shape& xs = ctx.input_shapes[0];
  if (xs.size() < 3) return invalid_input(ctx.where() + ": X must be [N, C, spatial...]");
  const std::vector<int64_t> spatial(xs.begin() + 2, xs.end());
  if (global) {  // one window covering each whole plane, as in the forward
    const size_t rank = spatial.size();
    return WindowGeometry{spatial, std::vector<int64_t>(rank, 1), spatial, std::vector<int64_t>(rank, 1),
                          std::vector<int64_t>(rank, 1), std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 0)};
  }
  EMBER_ASSIGN_OR_RETURN(WindowAttrs attrs, read_window_attrs(ctx.node));
  return resolve_window(attrs, spatial, attrs.kernel_shape, ctx.where());
}

enum class Pool { kMax, kAverage, kLp };

GradNeeds lp_pool_needs(const ir::Node&, IndexMask) { return {bit(0), bit(0)}; }

template <Pool kPool, bool kGlobal>
Status pool_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(WindowGeometry g, pool_geometry(ctx, kGlobal));
  const Shape& xs = ctx.input_shapes[0];
  const int64_t planes = xs[0] * xs[1], in_plane = g.in_size(), out_plane = g.out_size();
  const bool include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  const double p = static_cast<double>(ctx.node.attr_int("p", 2));
  const float* x = nullptr;
  const float* y = nullptr;
  if (kPool != Pool::kAverage) {
    EMBER_TRY(require_f32(ctx, ctx.input(0), "X"));
    x = ctx.input(0).data<float>();
  }
  if (kPool == Pool::kLp) {
    EMBER_TRY(require_f32(ctx, ctx.output(0), "Y"));
    y = ctx.output(0).data<float>();
  }
  Tensor dx = ctx.zeros(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t plane = 0; plane < planes; ++plane) {
    float* dxp = out + plane * in_plane;
    const float* xp = x ? x + plane * in_plane : nullptr;
    for (int64_t o = 0; o < out_plane; ++o) {
      const float grad = dy[plane * out_plane + o];
      if (kPool == Pool::kMax) {
        int64_t best = -1;
        for_each_tap(g, o, [&](int64_t i) {
          if (best < 0 || xp[i] > xp[best]) best = i;
        });
        if (best >= 0) dxp[best] += grad;
      } else if (kPool == Pool::kLp) {  // y = (sum |x|^p)^(1/p): dx = dy sign(x) |x|^(p-1) / y^(p-1)
        const double norm = y[plane * out_plane + o];
        if (norm == 0) continue;
        for_each_tap(g, o, [&](int64_t i) {
          const double v = xp[i];
          dxp[i] += static_cast<float>(grad * (v < 0 ? -1.0 : 1.0) * std::pow(std::fabs(v) / norm, p - 1));
        });
      } else {
        std::vector<int64_t> taps;
        const int64_t padded = for_each_tap(g, o, [&](int64_t i) { taps.push_back(i); });
        const int64_t divisor = include_pad ? padded : static_cast<int64_t>(taps.size());
        for (int64_t i : taps) dxp[i] += grad / static_cast<float>(divisor);
      }
    }
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status global_average_pool_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Shape& xs = ctx.input_shapes[0];
  if (xs.size() < 2) return invalid_input(ctx.where() + ": X must be [N, C, spatial...]");
  const int64_t planes = xs[0] * xs[1];
  const int64_t plane = planes ? shape_numel(xs) / planes : 0;
  Tensor dx = ctx.allocate(xs);
  float* out = dx.mutable_data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  for (int64_t p = 0; p < planes; ++p) std::fill(out + p * plane, out + (p + 1) * plane, dy[p] / static_cast<float>(plane));
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_conv_pool_grads(GradRegistry& r) {
  r.add("ConvTranspose", bit(0) | bit(1) | bit(2), conv_needs, conv_transpose_backward);
  r.add("Conv", bit(0) | bit(1) | bit(2), conv_needs, conv_backward);
  r.add("MaxPool", bit(0), needs_input0, pool_backward<Pool::kMax, false>);
  r.add("AveragePool", bit(0), needs_nothing, pool_backward<Pool::kAverage, false>);
  r.add("LpPool", bit(0), lp_pool_needs, pool_backward<Pool::kLp, false>);
  r.add("GlobalMaxPool", bit(0), needs_input0, pool_backward<Pool::kMax, true>);
  r.add("GlobalLpPool", bit(0), lp_pool_needs, pool_backward<Pool::kLp, true>);
  r.add("GlobalAveragePool", bit(0), needs_nothing, global_average_pool_backward);
}

}  // namespace ember::runtime::grad

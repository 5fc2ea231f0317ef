// Backward rules of the normalizations that standardize groups of elements. For a group of n
// elements with x^ = (x - mean) r, r = 1 / sqrt(var + eps), y = scale x^ + bias:
//   dx = r (dx^ - mean(dx^) - x^ mean(dx^ x^)),  dx^ = dy scale,
//   dscale = sum dy x^,  dbias = sum dy   (over the elements each scale/bias value touches)
//   InstanceNormalization: one group per (image, channel), scale/bias per channel
//   GroupNormalization: one group per (image, group of channels), scale/bias per group
//     (opset 18) or per channel (opset 21)
//   MeanVarianceNormalization, y = c / d over `axes` with c = x - mean, s = sqrt(mean(c^2)),
//     d = s + 1e-9 (no scale):  dx = (dy - mean(dy)) / d - c sum(dy c) / (n s d^2)
// Statistics are recomputed from the saved input, in double.
#include <cmath>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/reduce_plan.h"

namespace ember::runtime::grad {
namespace {

// One group of `channels` x `spatial` contiguous elements; scale/dscale/dbias are read and
// written at k * stride for the group's channel k (stride 0: one value for the group).
struct GroupSpan {
  const float* x;
  const float* dy;
  int64_t channels, spatial;
  const float* scale;
  int64_t stride;
  float* dx;  // null when dX is not wanted
  double *dscale, *dbias;
};

void group_backward(const GroupSpan& g, double eps) {
  const int64_t n = g.channels * g.spatial;
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) mean += g.x[i];
  mean /= double(n);
  for (int64_t i = 0; i < n; ++i) var += (g.x[i] - mean) * (g.x[i] - mean);
  const double r = 1.0 / std::sqrt(var / double(n) + eps);
  double sum_dxh = 0, sum_dxh_xh = 0;
  for (int64_t k = 0; k < g.channels; ++k) {
    const double s = g.scale[k * g.stride];
    double dscale = 0, dbias = 0;
    for (int64_t i = k * g.spatial; i < (k + 1) * g.spatial; ++i) {
      const double xh = (g.x[i] - mean) * r;
      dscale += g.dy[i] * xh;
      dbias += g.dy[i];
    }
    g.dscale[k * g.stride] += dscale;
    g.dbias[k * g.stride] += dbias;
    sum_dxh += dbias * s;
    sum_dxh_xh += dscale * s;
  }
  if (!g.dx) return;
  const double mean_dxh = sum_dxh / double(n), mean_dxh_xh = sum_dxh_xh / double(n);
  for (int64_t k = 0; k < g.channels; ++k) {
    const double s = g.scale[k * g.stride];
    for (int64_t i = k * g.spatial; i < (k + 1) * g.spatial; ++i) {
      const double xh = (g.x[i] - mean) * r;
      g.dx[i] = static_cast<float>(r * (g.dy[i] * s - mean_dxh - xh * mean_dxh_xh));
    }
  }
}

// Instance (groups = channels) and group normalization over X [N, C, ...].
Status standardize_groups(BackwardContext& ctx, int64_t groups, bool per_channel_affine) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  EMBER_ASSIGN_OR_RETURN(Tensor scale, as_f32(ctx.input(1)));
  const int64_t c = x.rank() >= 2 ? x.dim(1) : 0;
  if (c == 0 || groups <= 0 || c % groups) return invalid_input(ctx.where() + ": X must be [N, C, ...] with C a multiple of the groups");
  const int64_t n = x.dim(0), per_group = c / groups, spatial = x.numel() / std::max<int64_t>(1, n * c);
  if (scale.numel() != (per_channel_affine ? c : groups)) return invalid_input(ctx.where() + ": scale has the wrong size");
  Tensor dx;
  if (ctx.wants(0)) dx = ctx.allocate(x.shape());
  std::vector<double> dscale(size_t(scale.numel()), 0.0), dbias(dscale.size(), 0.0);
  const int64_t stride = per_channel_affine ? 1 : 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t offset = (b * c + g * per_group) * spatial, k0 = per_channel_affine ? g * per_group : g;
      const GroupSpan span{x.data<float>() + offset, ctx.output_grad(0).data<float>() + offset, per_group, spatial,
                           scale.data<float>() + k0, stride, dx.defined() ? dx.mutable_data<float>() + offset : nullptr,
                           dscale.data() + k0, dbias.data() + k0};
      group_backward(span, ctx.node.attr_float("epsilon", 1e-5f));
    }
  if (dx.defined()) ctx.input_grads[0] = std::move(dx);
  for (size_t input = 1; input < 3; ++input) {
    if (!ctx.wants(input)) continue;
    const std::vector<double>& d = input == 1 ? dscale : dbias;
    ctx.input_grads[input] = Tensor::from_vector<float>(ctx.input_shapes[input], std::vector<float>(d.begin(), d.end()));
  }
  return Status::Ok();
}

GradNeeds needs_x_and_scale(const ir::Node&, IndexMask) { return {bit(0) | bit(1), 0}; }

Status instance_norm_backward(BackwardContext& ctx) {
  const int64_t channels = ctx.input_shapes[0].size() >= 2 ? ctx.input_shapes[0][1] : 0;
  return standardize_groups(ctx, channels, true);
}

Status group_norm_backward(BackwardContext& ctx) {
  return standardize_groups(ctx, ctx.node.attr_int("num_groups", 0), ctx.opset >= 21);
}

Status mean_variance_norm_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  const ir::Attribute* attr = ctx.node.find_attr("axes");
  EMBER_ASSIGN_OR_RETURN(ReducePlan plan, plan_reduce(x.shape(), attr ? attr->ints : std::vector<int64_t>{0, 2, 3}, ctx.where()));
  const float* px = x.data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  const double count = double(plan.reduce_count);
  const size_t outs = size_t(plan.out_numel);
  std::vector<double> mean(outs, 0.0), squares(outs, 0.0), sum_dy(outs, 0.0), sum_dy_c(outs, 0.0);
  for_each_reduced(plan, [&](size_t o, int64_t i) { mean[o] += px[i]; });
  for (double& m : mean) m /= count;
  for_each_reduced(plan, [&](size_t o, int64_t i) {
    const double c = px[i] - mean[o];
    squares[o] += c * c;
    sum_dy[o] += dy[i];
    sum_dy_c[o] += dy[i] * c;
  });
  Tensor dx = ctx.allocate(x.shape());
  float* out = dx.mutable_data<float>();
  for_each_reduced(plan, [&](size_t o, int64_t i) {
    const double s = std::sqrt(squares[o] / count), d = s + 1e-9;
    const double c = px[i] - mean[o];
    const double cross = s > 0 ? c * sum_dy_c[o] / (count * s * d * d) : 0.0;
    out[i] = static_cast<float>((dy[i] - sum_dy[o] / count) / d - cross);
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_instance_norm_grads(GradRegistry& r) {
  r.add("InstanceNormalization", bit(0) | bit(1) | bit(2), needs_x_and_scale, instance_norm_backward);
  r.add("GroupNormalization", bit(0) | bit(1) | bit(2), needs_x_and_scale, group_norm_backward);
  r.add("MeanVarianceNormalization", bit(0), needs_input0, mean_variance_norm_backward);
}

}  // namespace ember::runtime::grad

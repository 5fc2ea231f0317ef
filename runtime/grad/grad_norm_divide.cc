// Backward rules of the normalizations that divide by a norm of the input.
//   LpNormalization along `axis`, y = x / m with m = ||x||_p (p = 1 or 2; a zero slice stays 0):
//     p = 2: dx = dy / m - x sum(dy x) / m^3        p = 1: dx = dy / m - sign(x) sum(dy x) / m^2
//   LRN over channels of [N, C, ...], with the window W(c) = [c - floor((size-1)/2), c + ceil((size-1)/2)]:
//     d_c = bias + alpha / size sum_{k in W(c)} x_k^2,   y_c = x_c d_c^-beta
//     dx_k = dy_k d_k^-beta - 2 alpha beta / size x_k sum_{c : k in W(c)} dy_c x_c d_c^(-beta-1)
#include <array>
#include <cmath>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reduce_plan.h"

namespace ember::runtime::grad {
namespace {

Status lp_norm_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  const int64_t p = ctx.node.attr_int("p", 2);
  if (p != 1 && p != 2) return invalid_input(ctx.where() + ": attribute p must be 1 or 2");
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", -1), x.rank(), ctx.where()));
  EMBER_ASSIGN_OR_RETURN(ReducePlan plan, plan_reduce(x.shape(), {axis}, ctx.where()));
  const float* px = x.data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  std::vector<double> norm(size_t(plan.out_numel), 0.0), dot(norm.size(), 0.0);
  for_each_reduced(plan, [&](size_t o, int64_t i) {
    norm[o] += p == 1 ? std::fabs(double(px[i])) : double(px[i]) * px[i];
    dot[o] += double(dy[i]) * px[i];
  });
  if (p == 2)
    for (double& m : norm) m = std::sqrt(m);
  Tensor dx = ctx.allocate(x.shape());
  float* out = dx.mutable_data<float>();
  for_each_reduced(plan, [&](size_t o, int64_t i) {
    const double m = norm[o];
    if (m == 0) {
      out[i] = 0.0f;
      return;
    }
    const double along = p == 2 ? px[i] / (m * m * m) : (px[i] > 0 ? 1.0 : px[i] < 0 ? -1.0 : 0.0) / (m * m);
    out[i] = static_cast<float>(dy[i] / m - along * dot[o]);
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status lrn_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  const int64_t size = ctx.node.attr_int("size", 0);
  if (size <= 0 || x.rank() < 3) return invalid_input(ctx.where() + ": needs a positive size and rank >= 3");
  const double alpha = ctx.node.attr_float("alpha", 1e-4f), beta = ctx.node.attr_float("beta", 0.75f);
  const double bias = ctx.node.attr_float("bias", 1.0f);
  const int64_t n = x.dim(0), c = x.dim(1), inner = x.numel() / std::max<int64_t>(1, n * c);
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  const float* px = x.data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  Tensor dx = ctx.allocate(x.shape());
  float* out = dx.mutable_data<float>();
  std::vector<double> d(static_cast<size_t>(c)), t(d.size());  // d_c, and dy_c x_c d_c^(-beta-1), of one column
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t ch) { return (b * c + ch) * inner + i; };
      for (int64_t ch = 0; ch < c; ++ch) {
        double sum = 0;
        for (int64_t k = std::max<int64_t>(0, ch - lo); k <= std::min(c - 1, ch + hi); ++k) sum += double(px[at(k)]) * px[at(k)];
        d[size_t(ch)] = bias + alpha / double(size) * sum;
        t[size_t(ch)] = dy[at(ch)] * double(px[at(ch)]) * std::pow(d[size_t(ch)], -beta - 1);
      }
      for (int64_t k = 0; k < c; ++k) {
        double sum = 0;  // over the channels whose window holds k: c in [k - hi, k + lo]
        for (int64_t ch = std::max<int64_t>(0, k - hi); ch <= std::min(c - 1, k + lo); ++ch) sum += t[size_t(ch)];
        out[at(k)] = static_cast<float>(dy[at(k)] * std::pow(d[size_t(k)], -beta) - 2 * alpha * beta / double(size) * px[at(k)] * sum);
      }
    }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_norm_divide_grads(GradRegistry& r) {
  r.add("LpNormalization", bit(0), needs_input0, lp_norm_backward);
  r.add("LRN", bit(0), needs_input0, lrn_backward);
}

}  // namespace ember::runtime::grad

// Backward rules of the reductions other than ReduceMean/ReduceSum (grad_normalization.cc).
// dy and y are broadcast back over the reduced axes (written dy, y below), then per element:
//   ReduceL1: dy sign(x)               ReduceL2: dy x / y (0 where y = 0)
//   ReduceSumSquare: 2 dy x            ReduceLogSum: dy / e^y (y = log sum x)
//   ReduceLogSumExp: dy e^(x - y)
//   ReduceMax / ReduceMin: dy / k to each of the k elements equal to y (ties share evenly)
//   ReduceProd: dy prod of the other elements = dy y / x where no element is zero; with one
//     zero only that element gets dy times the product of the rest; with two or more, none.
// The axes are an attribute before opset 18 and input 1 from then on (as in the forward).
#include <cmath>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/reduce_plan.h"

namespace ember::runtime::grad {
namespace {

enum class Kind { kL1, kL2, kSumSquare, kLogSum, kLogSumExp, kMax, kMin, kProd };

GradNeeds reduce_needs(const ir::Node&, IndexMask) { return {bit(0) | bit(1), bit(0)}; }

// `kept` (a tensor of the keepdims output shape) broadcast back to the input's shape.
Tensor expand(const BackwardContext& ctx, const Tensor& kept, const ReducePlan& plan) {
  return broadcast_to(ctx, kept.reshaped(plan.kept_shape), ctx.input_shapes[0]);
}

// dy times the product of the other elements of each reduced group.
Tensor prod_grad(const BackwardContext& ctx, const Tensor& x, const Tensor& dy, const ReducePlan& plan) {
  const int64_t n = x.numel();
  const float* px = x.data<float>();
  std::vector<double> nonzero_product(static_cast<size_t>(plan.out_numel), 1.0), zeros(nonzero_product.size(), 0.0);
  accumulate(plan, px, nonzero_product.data(), [](float v, int64_t) { return v == 0.0f ? 1.0 : double(v); },
             [](double a, double b) { return a * b; });
  accumulate(plan, px, zeros.data(), [](float v, int64_t) { return v == 0.0f ? 1.0 : 0.0; },
             [](double a, double b) { return a + b; });
  std::vector<float> p(nonzero_product.begin(), nonzero_product.end()), z(zeros.begin(), zeros.end());
  const Tensor pb = expand(ctx, Tensor::from_vector<float>(plan.kept_shape, p), plan);
  const Tensor zb = expand(ctx, Tensor::from_vector<float>(plan.kept_shape, z), plan);
  Tensor dx = ctx.allocate(x.shape());
  float* out = dx.mutable_data<float>();
  const float *g = dy.data<float>(), *pp = pb.data<float>(), *pz = zb.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    if (pz[i] == 0.0f) out[i] = g[i] * pp[i] / px[i];
    else out[i] = pz[i] == 1.0f && px[i] == 0.0f ? g[i] * pp[i] : 0.0f;
  }
  return dx;
}

// dy / k where x equals y, k the number of such elements of the group.
Tensor extreme_grad(const BackwardContext& ctx, const Tensor& x, const Tensor& dy, const Tensor& y, const ReducePlan& plan) {
  const int64_t n = x.numel();
  const float *px = x.data<float>(), *py = y.data<float>();
  Tensor mask = ctx.allocate(x.shape());
  float* m = mask.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) m[i] = px[i] == py[i] ? 1.0f : 0.0f;
  const Tensor count = expand(ctx, reduce_to_shape(ctx, mask, plan.kept_shape), plan);
  const float *g = dy.data<float>(), *c = count.data<float>();
  for (int64_t i = 0; i < n; ++i) m[i] = m[i] != 0.0f ? g[i] / c[i] : 0.0f;
  return mask;
}

template <Kind kKind>
Status reduce_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  bool noop = false;
  const int axes_input_since = 18;
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> axes, read_reduce_axes(ctx, axes_input_since, &noop));
  if (noop) {  // the output is the input
    ctx.input_grads[0] = ctx.output_grad(0);
    return Status::Ok();
  }
  EMBER_ASSIGN_OR_RETURN(ReducePlan plan, plan_reduce(x.shape(), axes, ctx.where()));
  const Tensor dy = expand(ctx, ctx.output_grad(0), plan);
  if constexpr (kKind == Kind::kProd) {
    ctx.input_grads[0] = prod_grad(ctx, x, dy, plan);
    return Status::Ok();
  }
  const Tensor& y_kept = ctx.output(0);
  EMBER_TRY(require_f32(ctx, y_kept, "Y"));
  const Tensor y = expand(ctx, y_kept, plan);
  if constexpr (kKind == Kind::kMax || kKind == Kind::kMin) {
    ctx.input_grads[0] = extreme_grad(ctx, x, dy, y, plan);
    return Status::Ok();
  }
  Tensor dx = ctx.allocate(x.shape());
  const float *px = x.data<float>(), *g = dy.data<float>(), *py = y.data<float>();
  float* out = dx.mutable_data<float>();
  parallel_for(dx.numel(), kTranscendentalGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if constexpr (kKind == Kind::kL1) out[i] = px[i] > 0 ? g[i] : px[i] < 0 ? -g[i] : 0.0f;
      if constexpr (kKind == Kind::kL2) out[i] = py[i] > 0 ? g[i] * px[i] / py[i] : 0.0f;
      if constexpr (kKind == Kind::kSumSquare) out[i] = 2.0f * g[i] * px[i];
      if constexpr (kKind == Kind::kLogSum) out[i] = g[i] * std::exp(-py[i]);
      if constexpr (kKind == Kind::kLogSumExp) out[i] = g[i] * std::exp(px[i] - py[i]);
    }
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_reduce_grads(GradRegistry& r) {
  r.add("ReduceL1", bit(0), reduce_needs, reduce_backward<Kind::kL1>);
  r.add("ReduceL2", bit(0), reduce_needs, reduce_backward<Kind::kL2>);
  r.add("ReduceSumSquare", bit(0), reduce_needs, reduce_backward<Kind::kSumSquare>);
  r.add("ReduceLogSum", bit(0), reduce_needs, reduce_backward<Kind::kLogSum>);
  r.add("ReduceLogSumExp", bit(0), reduce_needs, reduce_backward<Kind::kLogSumExp>);
  r.add("ReduceMax", bit(0), reduce_needs, reduce_backward<Kind::kMax>);
  r.add("ReduceMin", bit(0), reduce_needs, reduce_backward<Kind::kMin>);
  r.add("ReduceProd", bit(0), reduce_needs, reduce_backward<Kind::kProd>);
}

}  // namespace ember::runtime::grad

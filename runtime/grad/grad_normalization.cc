// Backward rules of the normalization family. Statistics are recomputed from the saved input
// (cheaper to keep than the Mean/InvStdDev outputs, which most graphs never request).
//   LayerNormalization over dims [axis, rank), x^ = (x - mean) r, r = 1 / sqrt(var + eps):
//     dx = r (dx^ - mean(dx^) - x^ mean(dx^ x^)),  dx^ = dy scale
//     dscale = sum over rows of dy x^,  dbias = sum over rows of dy
//   BatchNormalization (inference, running statistics), per channel c:
//     dx = dy scale r,  dscale = sum dy (x - mean) r,  dB = sum dy,
//     dmean = -sum dy scale r,  dvar = -1/2 sum dy scale (x - mean) r^3
//   ReduceMean / ReduceSum: dy broadcast back over the reduced axes (divided by the count).
#include <algorithm>
#include <cmath>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reduce_plan.h"
#include "runtime/parallel.h"

namespace ember::runtime::grad {
namespace {

// Elements per block of LayerNorm rows in the backward pass (GPT-2's [128, 384]: 8 blocks),
// and at most this many blocks, each with its own n-float partial sums.
constexpr int64_t kLayerNormBlockElements = int64_t{1} << 13;
constexpr int64_t kMaxLayerNormBlocks = 64;

GradNeeds layer_norm_needs(const ir::Node&, IndexMask) { return {bit(0) | bit(1), 0}; }

Status layer_norm_backward(BackwardContext& ctx) {
  if (ctx.has_output_grad(1) || ctx.has_output_grad(2))
    return unsupported(ctx.where() + ": gradients through the Mean/InvStdDev outputs are not supported");
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", -1), x.rank(), ctx.where()));
  const double eps = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  EMBER_ASSIGN_OR_RETURN(Tensor scale_in, as_f32(ctx.input(1)));
  const Tensor scale = broadcast_to(ctx, scale_in, norm_shape);
  const int64_t n = shape_numel(norm_shape);
  const int64_t rows = n ? x.numel() / n : 0;
  const float* px = x.data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  const float* s = scale.data<float>();
  Tensor dx;
  if (ctx.wants(0)) dx = ctx.allocate(x.shape());
  // Float rows (they vectorize); the statistics and the two row reductions in double. Rows go
  // in fixed blocks over the threads; each block sums its own dscale / dbias, and the blocks'
  // sums are added in block order, so the result does not depend on the thread count.
  const int64_t block_rows = std::max({int64_t{1}, kLayerNormBlockElements / std::max<int64_t>(n, 1),
                                       (rows + kMaxLayerNormBlocks - 1) / kMaxLayerNormBlocks});
  const int64_t blocks = rows ? (rows + block_rows - 1) / block_rows : 0;
  std::vector<float> partial(static_cast<size_t>(2 * n * blocks), 0.0f);
  float* out = dx.defined() ? dx.mutable_data<float>() : nullptr;
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> xhat(static_cast<size_t>(n)), dxhat(static_cast<size_t>(n));
    for (int64_t b = b0; b < b1; ++b) {
      float* dscale = partial.data() + 2 * n * b;
      float* dbias = dscale + n;
      for (int64_t r = b * block_rows; r < std::min(rows, (b + 1) * block_rows); ++r) {
        const float* xr = px + r * n;
        const float* gr = dy + r * n;
        double mean = 0, var = 0;
#pragma omp simd reduction(+ : mean)
        for (int64_t i = 0; i < n; ++i) mean += xr[i];
        mean /= static_cast<double>(n);
#pragma omp simd reduction(+ : var)
        for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        const float inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(n) + eps));
        const float m = static_cast<float>(mean);
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) {
          const size_t k = static_cast<size_t>(i);
          xhat[k] = (xr[i] - m) * inv;
          dxhat[k] = gr[i] * s[i];
          dscale[i] += gr[i] * xhat[k];
          dbias[i] += gr[i];
        }
        if (!out) continue;
        const float mean_dxhat = static_cast<float>(sum_f32(dxhat.data(), n) / static_cast<double>(n));
        const float mean_dxhat_xhat = static_cast<float>(dot_f32(dxhat.data(), xhat.data(), n) / static_cast<double>(n));
        float* o = out + r * n;
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) {
          const size_t k = static_cast<size_t>(i);
          o[i] = inv * (dxhat[k] - mean_dxhat - xhat[k] * mean_dxhat_xhat);
        }
      }
    }
  });
  std::vector<float> dscale(static_cast<size_t>(n), 0.0f), dbias(static_cast<size_t>(n), 0.0f);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < n; ++i) {
      dscale[size_t(i)] += partial[size_t(2 * n * b + i)];
      dbias[size_t(i)] += partial[size_t(2 * n * b + n + i)];
    }
  if (dx.defined()) ctx.input_grads[0] = std::move(dx);
  for (size_t input = 1; input < 3; ++input) {
    if (!ctx.wants(input)) continue;
    Tensor full = Tensor::from_vector<float>(norm_shape, input == 1 ? dscale : dbias);
    ctx.input_grads[input] = reduce_to_shape(ctx, full, ctx.input_shapes[input]);
  }
  return Status::Ok();
}

GradNeeds batch_norm_needs(const ir::Node&, IndexMask) { return {kAllIndices, 0}; }

Status batch_norm_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  if (ctx.node.attr_int("training_mode", 0) != 0)
    return unsupported(ctx.where() + ": gradients of BatchNormalization in training mode are not supported");
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  if (x.rank() < 2) return invalid_input(ctx.where() + ": X must be [N, C, ...]");
  const double eps = ctx.node.attr_float("epsilon", 1e-5f);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t plane = channels && batch ? x.numel() / (batch * channels) : 0;
  std::vector<std::vector<float>> p(5);
  for (size_t i = 1; i < 5; ++i) {
    EMBER_ASSIGN_OR_RETURN(p[i], ctx.input(i).to_floats());
    if (static_cast<int64_t>(p[i].size()) != channels)
      return invalid_input(ctx.where() + ": input " + std::to_string(i) + " must have " + std::to_string(channels) + " values");
  }
  const std::vector<float>& scale = p[1];
  const std::vector<float>& mean = p[3];
  const std::vector<float>& var = p[4];
  const float* px = x.data<float>();
  const float* dy = ctx.output_grad(0).data<float>();
  Tensor dx;
  if (ctx.wants(0)) dx = ctx.allocate(x.shape());
  std::vector<double> sum_dy(static_cast<size_t>(channels), 0.0), sum_dy_xc(static_cast<size_t>(channels), 0.0);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const size_t k = static_cast<size_t>(c);
      const double inv = 1.0 / std::sqrt(static_cast<double>(var[k]) + eps);
      const int64_t base = (n * channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i) {
        sum_dy[k] += dy[base + i];
        sum_dy_xc[k] += static_cast<double>(dy[base + i]) * (px[base + i] - mean[k]);
        if (dx.defined()) dx.mutable_data<float>()[base + i] = static_cast<float>(dy[base + i] * scale[k] * inv);
      }
    }
  if (dx.defined()) ctx.input_grads[0] = std::move(dx);
  for (size_t input = 1; input < 5; ++input) {
    if (!ctx.wants(input)) continue;
    std::vector<float> g(static_cast<size_t>(channels));
    for (size_t c = 0; c < g.size(); ++c) {
      const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
      double v = 0;
      if (input == 1) v = sum_dy_xc[c] * inv;
      if (input == 2) v = sum_dy[c];
      if (input == 3) v = -sum_dy[c] * scale[c] * inv;
      if (input == 4) v = -0.5 * sum_dy_xc[c] * scale[c] * inv * inv * inv;
      g[c] = static_cast<float>(v);
    }
    ctx.input_grads[input] = Tensor::from_vector<float>(ctx.input_shapes[input], g);
  }
  return Status::Ok();
}

GradNeeds reduce_needs(const ir::Node&, IndexMask) { return {bit(1), 0}; }

template <bool kMean, int kAxesInputSince>
Status reduce_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  bool noop = false;
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> axes, read_reduce_axes(ctx, kAxesInputSince, &noop));
  if (noop) {
    ctx.input_grads[0] = ctx.output_grad(0);
    return Status::Ok();
  }
  EMBER_ASSIGN_OR_RETURN(ReducePlan plan, plan_reduce(ctx.input_shapes[0], axes, ctx.where()));
  const Tensor kept = ctx.output_grad(0).reshaped(plan.kept_shape);
  Tensor dx = broadcast_to(ctx, kept, ctx.input_shapes[0]);
  if (kMean && plan.reduce_count > 0) {
    const float inv = 1.0f / static_cast<float>(plan.reduce_count);
    float* p = dx.mutable_data<float>();
    const int64_t n = dx.numel();
    for (int64_t i = 0; i < n; ++i) p[i] *= inv;
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_normalization_grads(GradRegistry& r) {
  r.add("LayerNormalization", bit(0) | bit(1) | bit(2), layer_norm_needs, layer_norm_backward);
  r.add("BatchNormalization", bit(0) | bit(1) | bit(2) | bit(3) | bit(4), batch_norm_needs, batch_norm_backward);
  r.add("ReduceMean", bit(0), reduce_needs, reduce_backward<true, 18>);
  r.add("ReduceSum", bit(0), reduce_needs, reduce_backward<false, 13>);
}

}  // namespace ember::runtime::grad

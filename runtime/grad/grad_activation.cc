// Backward rules of the activation family, written with whichever forward value is cheaper:
//   Relu: dy [y > 0]          LeakyRelu: dy (x > 0 ? 1 : alpha)
//   Tanh: dy (1 - y^2)        Sigmoid: dy y (1 - y)        Erf: dy 2/sqrt(pi) exp(-x^2)
//   Softmax:    dx = y (dy - sum_axis(dy y))
//   LogSoftmax: dx = dy - exp(y) sum_axis(dy)
//   Gelu (ONNX 20, and the runtime's fused ember.fused Gelu), from x:
//     tanh form: y = x/2 (1 + t), t = tanh(c (x + k x^3)), c = sqrt(2/pi), k = 0.044715,
//                dy/dx = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 k x^2)
//     erf form:  y = x/2 (1 + e), e = erf(x / sqrt 2),  dy/dx = (1 + e)/2 + x exp(-x^2/2) / sqrt(2 pi)
// Softmax before opset 13 normalises the input flattened to 2-D at `axis` (default 1);
// from 13 on, one axis (default -1).
#include <algorithm>
#include <cmath>

#include "runtime/fused/fused_ops.h"
#include "runtime/grad/grad_util.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/shape_common.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime::grad {
namespace {

Status relu_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.output(0), [](float g, float y) { return y > 0.0f ? g : 0.0f; });
}
Status leaky_relu_backward(BackwardContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.01f);
  return pointwise_backward(ctx, ctx.input(0), [alpha](float g, float x) { return x > 0.0f ? g : alpha * g; });
}
Status tanh_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.output(0), [](float g, float y) { return g * (1.0f - y * y); });
}
Status sigmoid_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.output(0), [](float g, float y) { return g * y * (1.0f - y); });
}
Status erf_backward(BackwardContext& ctx) {
  constexpr float kTwoOverSqrtPi = 1.1283791670955126f;
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g * kTwoOverSqrtPi * std::exp(-x * x); });
}

Status gelu_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  const std::string approximate = ctx.node.attr_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return unsupported(ctx.where() + ": approximate='" + approximate + "' (expected none or tanh)");
  const bool tanh_form = approximate == "tanh";
  Tensor dx = ctx.allocate(x.shape());
  const float* xv = x.data<float>();
  const float* g = ctx.output_grad(0).data<float>();
  float* out = dx.mutable_data<float>();
  constexpr float c = 0.79788456080286535588f, k = 0.044715f;
  constexpr float kInvSqrt2 = 0.70710678118654752440f, kInvSqrt2Pi = 0.39894228040143267794f;
  parallel_for(dx.numel(), kTranscendentalGrain, [&](int64_t begin, int64_t end) {
    constexpr int64_t kBlock = 256;  // t (or e) of a block, by the vector tanh (erf)
    float t[kBlock];
    for (int64_t b = begin; b < end; b += kBlock) {
      const int64_t m = std::min(kBlock, end - b);
      const float* xb = xv + b;
      if (tanh_form) {
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) t[i] = c * (xb[i] + k * xb[i] * xb[i] * xb[i]);
        vmath::tanh(t, t, m);
#pragma omp simd
        for (int64_t i = 0; i < m; ++i)
          out[b + i] = g[b + i] * (0.5f * (1.0f + t[i]) + 0.5f * xb[i] * (1.0f - t[i] * t[i]) * c * (1.0f + 3.0f * k * xb[i] * xb[i]));
      } else {
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) t[i] = xb[i] * kInvSqrt2;
        vmath::erf(t, t, m);
        for (int64_t i = 0; i < m; ++i)
          out[b + i] = g[b + i] * (0.5f * (1.0f + t[i]) + xb[i] * kInvSqrt2Pi * std::exp(-0.5f * xb[i] * xb[i]));
      }
    }
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

// The softmax axis as (outer, n, inner) strides over the flat tensor.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};

Result<AxisSplit> softmax_split(const BackwardContext& ctx) {
  const Shape& shape = ctx.input_shapes[0];
  const int rank = static_cast<int>(shape.size());
  AxisSplit s;
  if (rank == 0) return s;
  if (ctx.opset < 13) {
    EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", 1), rank, ctx.where()));
    s.outer = product(shape, 0, static_cast<size_t>(axis));
    s.n = product(shape, static_cast<size_t>(axis), shape.size());
    return s;
  }
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", -1), rank, ctx.where()));
  s.outer = product(shape, 0, static_cast<size_t>(axis));
  s.n = shape[static_cast<size_t>(axis)];
  s.inner = product(shape, static_cast<size_t>(axis) + 1, shape.size());
  return s;
}

// dx[i] = combine(dy[i], y[i], reduce over the axis of term(dy, y)).
template <class Term, class Combine>
Status softmax_like(BackwardContext& ctx, Term term, Combine combine) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_TRY(require_f32(ctx, ctx.output(0), "Y"));
  EMBER_ASSIGN_OR_RETURN(AxisSplit s, softmax_split(ctx));
  Tensor dx = ctx.allocate(ctx.input_shapes[0]);
  const float* dy = ctx.output_grad(0).data<float>();
  const float* y = ctx.output(0).data<float>();
  float* out = dx.mutable_data<float>();
  const int64_t lines = s.outer * s.inner;
  parallel_for(lines, std::max<int64_t>(1, kTranscendentalGrain / std::max<int64_t>(s.n, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t line = begin; line < end; ++line) {
      const int64_t base = (line / s.inner) * s.n * s.inner + line % s.inner;
      float total = 0;  // a softmax axis is short; float lanes are exact enough
#pragma omp simd reduction(+ : total)
      for (int64_t k = 0; k < s.n; ++k) total += term(dy[base + k * s.inner], y[base + k * s.inner]);
#pragma omp simd
      for (int64_t k = 0; k < s.n; ++k) {
        const int64_t i = base + k * s.inner;
        out[i] = combine(dy[i], y[i], total);
      }
    }
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status softmax_backward(BackwardContext& ctx) {
  return softmax_like(
      ctx, [](float g, float y) { return g * y; },
      [](float g, float y, float total) { return y * (g - total); });
}

Status log_softmax_backward(BackwardContext& ctx) {
  return softmax_like(
      ctx, [](float g, float) { return g; },
      [](float g, float y, float total) { return g - std::exp(y) * total; });
}

}  // namespace

void register_activation_grads(GradRegistry& r) {
  r.add("Relu", bit(0), needs_output0, relu_backward);
  r.add("LeakyRelu", bit(0), needs_input0, leaky_relu_backward);
  r.add("Tanh", bit(0), needs_output0, tanh_backward);
  r.add("Sigmoid", bit(0), needs_output0, sigmoid_backward);
  r.add("Erf", bit(0), needs_input0, erf_backward);
  r.add("Gelu", bit(0), needs_input0, gelu_backward);
  r.add(fused::kGelu, bit(0), needs_input0, gelu_backward, fused::kDomain);  // what fused GELU chains become
  r.add("Softmax", bit(0), needs_output0, softmax_backward);
  r.add("LogSoftmax", bit(0), needs_output0, log_softmax_backward);
}

}  // namespace ember::runtime::grad

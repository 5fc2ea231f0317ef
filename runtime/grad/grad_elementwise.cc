// Backward rules of the elementwise family. Binary ops broadcast like numpy, so each input's
// gradient is summed back over the axes it was broadcast along (reduce_to_shape).
//   Add: da = dy, db = dy            Sub: da = dy, db = -dy
//   Mul: da = dy b, db = dy a        Div: da = dy / b, db = -dy a / b^2
//   Pow: da = dy b a^(b-1), db = dy a^b ln a (0 where a <= 0, where ln is undefined)
//   Neg: -dy   Sqrt: dy / (2 y)   Exp: dy y   Log: dy / x   Reciprocal: -dy y^2
//   Where(c, x, y): dx = dy where c, dy_y = dy where not c
//   Sum (n inputs): dx_i = dy      Mean (n inputs): dx_i = dy / n
//   Cast and CastLike between float types pass the gradient through (casts to integers stop it).
#include <cmath>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime::grad {
namespace {

const Shape& out_shape(const BackwardContext& ctx) { return ctx.output_shapes[0]; }

// Assigns dX_i = g summed over the axes input i was broadcast along (a view of g when none).
void set_grad(BackwardContext& ctx, size_t i, const Tensor& g) { ctx.input_grads[i] = reduce_to_shape(ctx, g, ctx.input_shapes[i]); }

Tensor scaled(const BackwardContext& ctx, const Tensor& t, float factor) {
  Tensor out = ctx.allocate(t.shape());
  map_unary(t.data<float>(), out.mutable_data<float>(), t.numel(), [factor](float v) { return v * factor; });
  return out;
}

Status add_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  for (size_t i = 0; i < 2; ++i)
    if (ctx.wants(i)) set_grad(ctx, i, ctx.output_grad(0));
  return Status::Ok();
}

template <bool kMean>
Status sum_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const float n = static_cast<float>(ctx.input_shapes.size());
  for (size_t i = 0; i < ctx.input_shapes.size(); ++i) {
    if (!ctx.wants(i)) continue;
    const Tensor g = reduce_to_shape(ctx, ctx.output_grad(0), ctx.input_shapes[i]);
    ctx.input_grads[i] = kMean ? scaled(ctx, g, 1.0f / n) : g;
  }
  return Status::Ok();
}

Status sub_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  if (ctx.wants(0)) set_grad(ctx, 0, ctx.output_grad(0));
  if (ctx.wants(1)) ctx.input_grads[1] = scaled(ctx, reduce_to_shape(ctx, ctx.output_grad(0), ctx.input_shapes[1]), -1.0f);
  return Status::Ok();
}

GradNeeds needs_other_operand(const ir::Node&, IndexMask wanted) {
  GradNeeds n;
  if (wanted & bit(0)) n.inputs |= bit(1);
  if (wanted & bit(1)) n.inputs |= bit(0);
  return n;
}

Status mul_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& dy = ctx.output_grad(0);
  for (size_t i = 0; i < 2; ++i) {
    if (!ctx.wants(i)) continue;
    EMBER_ASSIGN_OR_RETURN(Tensor other, as_f32(ctx.input(1 - i)));
    set_grad(ctx, i, multiply_broadcast(ctx, dy, other, out_shape(ctx)));
  }
  return Status::Ok();
}

GradNeeds div_needs(const ir::Node&, IndexMask wanted) {
  GradNeeds n;
  if (wanted & bit(0)) n.inputs |= bit(1);
  if (wanted & bit(1)) n.inputs |= bit(0) | bit(1);
  return n;
}

Status div_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& dy = ctx.output_grad(0);
  EMBER_ASSIGN_OR_RETURN(Tensor b, as_f32(ctx.input(1)));
  if (ctx.wants(0)) set_grad(ctx, 0, map_broadcast2(ctx, dy, b, out_shape(ctx), [](float g, float d) { return g / d; }));
  if (ctx.wants(1)) {
    EMBER_ASSIGN_OR_RETURN(Tensor a, as_f32(ctx.input(0)));
    // -dy a / b^2 = -(dy / b) (a / b), computed as two broadcasts to keep one helper.
    Tensor q = map_broadcast2(ctx, a, b, out_shape(ctx), [](float x, float d) { return -x / (d * d); });
    set_grad(ctx, 1, multiply_broadcast(ctx, dy, q, out_shape(ctx)));
  }
  return Status::Ok();
}

bool is_small_integer(float e) { return e == std::nearbyint(e) && std::fabs(e) <= 16.0f; }

float integer_power(float x, int n) {
  float base = n < 0 ? 1.0f / x : x, result = 1.0f;
  for (int k = n < 0 ? -n : n; k > 0; k >>= 1, base *= base)
    if (k & 1) result *= base;
  return result;
}

Status pow_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& dy = ctx.output_grad(0);
  EMBER_ASSIGN_OR_RETURN(Tensor a, as_f32(ctx.input(0)));
  EMBER_ASSIGN_OR_RETURN(Tensor b, as_f32(ctx.input(1)));
  if (ctx.wants(0) && b.numel() == 1 && a.shape() == out_shape(ctx) && is_small_integer(b.data<float>()[0])) {
    // x^n with a constant integer n (GPT-2's GELU cubes): products instead of powf.
    const float e = b.data<float>()[0];
    const int n = static_cast<int>(e) - 1;
    Tensor da = ctx.allocate(a.shape());
    const float* x = a.data<float>();
    const float* g = dy.data<float>();
    float* out = da.mutable_data<float>();
    parallel_for(da.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      if (n == 2) {  // the cube of GELU's tanh form: a loop that vectorizes
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) out[i] = g[i] * e * x[i] * x[i];
      } else {
        for (int64_t i = begin; i < end; ++i) out[i] = g[i] * e * integer_power(x[i], n);
      }
    });
    ctx.input_grads[0] = std::move(da);
  } else if (ctx.wants(0)) {
    Tensor d = map_broadcast2(ctx, a, b, out_shape(ctx), [](float x, float e) {
      return e == 0.0f ? 0.0f : e * std::pow(x, e - 1.0f);
    });
    set_grad(ctx, 0, multiply_broadcast(ctx, dy, d, out_shape(ctx)));
  }
  if (ctx.wants(1)) {
    Tensor d = map_broadcast2(ctx, a, b, out_shape(ctx), [](float x, float e) {
      return x > 0.0f ? std::pow(x, e) * std::log(x) : 0.0f;
    });
    set_grad(ctx, 1, multiply_broadcast(ctx, dy, d, out_shape(ctx)));
  }
  return Status::Ok();
}

// Unary rules: dx = f(dy, v) where v is the saved input or output.
template <class F>
Status unary_backward(BackwardContext& ctx, const Tensor& saved, F f) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_TRY(require_f32(ctx, saved, "the saved value"));
  const Tensor& dy = ctx.output_grad(0);
  Tensor dx = ctx.allocate(ctx.input_shapes[0]);
  const float* g = dy.data<float>();
  const float* v = saved.data<float>();
  float* out = dx.mutable_data<float>();
  parallel_for(dx.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) out[i] = f(g[i], v[i]);
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Status neg_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  ctx.input_grads[0] = scaled(ctx, ctx.output_grad(0), -1.0f);
  return Status::Ok();
}
Status sqrt_backward(BackwardContext& ctx) {
  return unary_backward(ctx, ctx.output(0), [](float g, float y) { return g / (2.0f * y); });
}
Status exp_backward(BackwardContext& ctx) {
  return unary_backward(ctx, ctx.output(0), [](float g, float y) { return g * y; });
}
Status log_backward(BackwardContext& ctx) {
  return unary_backward(ctx, ctx.input(0), [](float g, float x) { return g / x; });
}
Status reciprocal_backward(BackwardContext& ctx) {
  return unary_backward(ctx, ctx.output(0), [](float g, float y) { return -g * y * y; });
}

GradNeeds needs_condition(const ir::Node&, IndexMask) { return {bit(0), 0}; }

Status where_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& cond = ctx.input(0);
  if (cond.dtype() != DType::kBool) return invalid_input(ctx.where() + ": condition must be bool");
  const Shape& shape = out_shape(ctx);
  std::vector<uint8_t> mask(static_cast<size_t>(shape_numel(shape)));
  copy_strided(reinterpret_cast<const uint8_t*>(cond.raw()), mask.data(), shape, broadcast_strides(cond.shape(), shape));
  const float* dy = ctx.output_grad(0).data<float>();
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.wants(i)) continue;
    Tensor g = ctx.allocate(shape);
    float* p = g.mutable_data<float>();
    const uint8_t keep = i == 1 ? 1 : 0;
    for (size_t k = 0; k < mask.size(); ++k) p[k] = (mask[k] != 0) == (keep != 0) ? dy[k] : 0.0f;
    set_grad(ctx, i, g);
  }
  return Status::Ok();
}

Status cast_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  ctx.input_grads[0] = ctx.output_grad(0);
  return Status::Ok();
}

}  // namespace

void register_elementwise_grads(GradRegistry& r) {
  r.add("Add", bit(0) | bit(1), needs_nothing, add_backward);
  r.add("Sub", bit(0) | bit(1), needs_nothing, sub_backward);
  r.add("Mul", bit(0) | bit(1), needs_other_operand, mul_backward);
  r.add("Div", bit(0) | bit(1), div_needs, div_backward);
  r.add("Pow", bit(0) | bit(1), needs_all_inputs, pow_backward);
  r.add("Neg", bit(0), needs_nothing, neg_backward);
  r.add("Sqrt", bit(0), needs_output0, sqrt_backward);
  r.add("Exp", bit(0), needs_output0, exp_backward);
  r.add("Log", bit(0), needs_input0, log_backward);
  r.add("Reciprocal", bit(0), needs_output0, reciprocal_backward);
  r.add("Where", bit(1) | bit(2), needs_condition, where_backward);
  r.add("Cast", bit(0), needs_nothing, cast_backward);
  r.add("CastLike", bit(0), needs_nothing, cast_backward);
  r.add("Sum", kAllIndices, needs_nothing, sum_backward<false>);
  r.add("Mean", kAllIndices, needs_nothing, sum_backward<true>);
}

}  // namespace ember::runtime::grad

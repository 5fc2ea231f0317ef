// Backward rules of the elementary math functions (pointwise, from the saved input, or from
// the output where that is cheaper):
//   Abs: dy sign(x) (0 at 0)     Sin: dy cos x     Cos: -dy sin x     Tan: dy (1 + y^2)
//   Asin: dy / sqrt(1 - x^2)     Acos: -dy / sqrt(1 - x^2)            Atan: dy / (1 + x^2)
//   Sinh: dy cosh x              Cosh: dy sinh x                      Asinh: dy / sqrt(x^2 + 1)
//   Acosh: dy / sqrt(x^2 - 1)    Atanh: dy / (1 - x^2)
//   Mod with fmod=1 (the only float form), y = a - b trunc(a / b):
//     da = dy,  db = -dy trunc(a / b)   (summed back over broadcast axes)
//   Det of each trailing M x M matrix A: dA = dy det(A) A^-T (Jacobi's formula; a singular
//     matrix, whose inverse does not exist, gets a zero gradient)
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/grad/grad_util.h"

namespace ember::runtime::grad {
namespace {

Status abs_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return x > 0 ? g : x < 0 ? -g : 0.0f; });
}
Status sin_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g * std::cos(x); });
}
Status cos_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return -g * std::sin(x); });
}
Status tan_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.output(0), [](float g, float y) { return g * (1.0f + y * y); });
}
Status asin_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g / std::sqrt(1.0f - x * x); });
}
Status acos_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return -g / std::sqrt(1.0f - x * x); });
}
Status atan_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g / (1.0f + x * x); });
}
Status sinh_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g * std::cosh(x); });
}
Status cosh_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g * std::sinh(x); });
}
Status asinh_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g / std::sqrt(x * x + 1.0f); });
}
Status acosh_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g / std::sqrt(x * x - 1.0f); });
}
Status atanh_backward(BackwardContext& ctx) {
  return pointwise_backward(ctx, ctx.input(0), [](float g, float x) { return g / (1.0f - x * x); });
}

// Integer Mod has no gradient path (integers are never active); a float Mod is always fmod=1.
bool mod_supported(const ir::Node& node) { return node.attr_int("fmod", 0) == 1; }

GradNeeds mod_needs(const ir::Node&, IndexMask wanted) { return {(wanted & bit(1)) ? bit(0) | bit(1) : IndexMask{0}, 0}; }

Status mod_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Tensor& dy = ctx.output_grad(0);
  if (ctx.wants(0)) ctx.input_grads[0] = reduce_to_shape(ctx, dy, ctx.input_shapes[0]);
  if (ctx.wants(1)) {
    EMBER_TRY(require_f32(ctx, ctx.input(0), "A"));
    EMBER_TRY(require_f32(ctx, ctx.input(1), "B"));
    const Shape& shape = ctx.output_shapes[0];
    const Tensor q = map_broadcast2(ctx, ctx.input(0), ctx.input(1), shape, [](float a, float b) { return -std::trunc(a / b); });
    ctx.input_grads[1] = reduce_to_shape(ctx, multiply_broadcast(ctx, dy, q, shape), ctx.input_shapes[1]);
  }
  return Status::Ok();
}

// A^-1 of an m x m matrix by Gauss-Jordan elimination with partial pivoting; false when singular.
bool invert(std::vector<double> a, int64_t m, std::vector<double>& inv) {
  inv.assign(size_t(m * m), 0.0);
  for (int64_t i = 0; i < m; ++i) inv[size_t(i * m + i)] = 1.0;
  for (int64_t col = 0; col < m; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < m; ++r)
      if (std::fabs(a[size_t(r * m + col)]) > std::fabs(a[size_t(pivot * m + col)])) pivot = r;
    if (a[size_t(pivot * m + col)] == 0.0) return false;
    for (int64_t k = 0; k < m; ++k) {
      std::swap(a[size_t(col * m + k)], a[size_t(pivot * m + k)]);
      std::swap(inv[size_t(col * m + k)], inv[size_t(pivot * m + k)]);
    }
    const double p = a[size_t(col * m + col)];
    for (int64_t k = 0; k < m; ++k) {
      a[size_t(col * m + k)] /= p;
      inv[size_t(col * m + k)] /= p;
    }
    for (int64_t r = 0; r < m; ++r) {
      const double f = a[size_t(r * m + col)];
      if (r == col || f == 0.0) continue;
      for (int64_t k = 0; k < m; ++k) {
        a[size_t(r * m + k)] -= f * a[size_t(col * m + k)];
        inv[size_t(r * m + k)] -= f * inv[size_t(col * m + k)];
      }
    }
  }
  return true;
}

GradNeeds needs_input_and_output(const ir::Node&, IndexMask) { return {bit(0), bit(0)}; }

Status det_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "X"));
  EMBER_TRY(require_f32(ctx, ctx.output(0), "Y"));
  if (x.rank() < 2 || x.dim(x.rank() - 1) != x.dim(x.rank() - 2)) return invalid_input(ctx.where() + ": X must be [..., M, M]");
  const int64_t m = x.dim(x.rank() - 1), count = x.numel() / std::max<int64_t>(1, m * m);
  Tensor dx = ctx.allocate(x.shape());
  float* out = dx.mutable_data<float>();
  std::vector<double> inv;
  for (int64_t b = 0; b < count; ++b) {
    const float* a = x.data<float>() + b * m * m;
    const double scale = double(ctx.output_grad(0).data<float>()[b]) * ctx.output(0).data<float>()[b];
    const bool regular = invert(std::vector<double>(a, a + m * m), m, inv);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) out[b * m * m + i * m + j] = regular ? static_cast<float>(scale * inv[size_t(j * m + i)]) : 0.0f;
  }
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace

void register_math_grads(GradRegistry& r) {
  r.add("Abs", bit(0), needs_input0, abs_backward);
  r.add("Sin", bit(0), needs_input0, sin_backward);
  r.add("Cos", bit(0), needs_input0, cos_backward);
  r.add("Tan", bit(0), needs_output0, tan_backward);
  r.add("Asin", bit(0), needs_input0, asin_backward);
  r.add("Acos", bit(0), needs_input0, acos_backward);
  r.add("Atan", bit(0), needs_input0, atan_backward);
  r.add("Sinh", bit(0), needs_input0, sinh_backward);
  r.add("Cosh", bit(0), needs_input0, cosh_backward);
  r.add("Asinh", bit(0), needs_input0, asinh_backward);
  r.add("Acosh", bit(0), needs_input0, acosh_backward);
  r.add("Atanh", bit(0), needs_input0, atanh_backward);
  r.add("Mod", bit(0) | bit(1), mod_needs, mod_backward, "", mod_supported);
  r.add("Det", bit(0), needs_input_and_output, det_backward);
}

}  // namespace ember::runtime::grad

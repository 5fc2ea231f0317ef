// Backward rules of the clamping ops (subgradients; at a tie or a bound the gradient goes to
// the first input that attains the value, as in PyTorch):
//   Max/Min (n inputs, broadcast): dx_i = dy where x_i is the first input equal to y, summed
//     back over the axes x_i was broadcast along
//   Clip:        dx = dy where min <= x <= max (bounds from attributes before opset 11, else inputs)
//   HardSigmoid: dx = dy alpha where 0 < alpha x + beta < 1
//   HardSwish:   dx = dy (x < -3 ? 0 : x > 3 ? 1 : x / 3 + 1/2)
#include <cfloat>
#include <cstring>

#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime::grad {
namespace {

GradNeeds needs_inputs_and_output(const ir::Node& node, IndexMask) {
  IndexMask inputs = 0;
  for (size_t i = 0; i < node.inputs.size() && i < kMaxIndices; ++i) inputs |= bit(i);
  return {inputs, bit(0)};
}

Status max_min_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const Shape& shape = ctx.output_shapes[0];
  const int64_t n = shape_numel(shape);
  const Tensor& y = ctx.output(0);
  EMBER_TRY(require_f32(ctx, y, "the output"));
  std::vector<uint8_t> taken(static_cast<size_t>(n), 0);  // whether an earlier input already matched
  std::vector<float> x(static_cast<size_t>(n));
  const float* dy = ctx.output_grad(0).data<float>();
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (!ctx.has_input(i)) continue;
    EMBER_TRY(require_f32(ctx, ctx.input(i), "input " + std::to_string(i)));
    copy_strided(ctx.input(i).data<float>(), x.data(), shape, broadcast_strides(ctx.input(i).shape(), shape));
    Tensor g = ctx.allocate(shape);
    float* p = g.mutable_data<float>();
    for (int64_t k = 0; k < n; ++k) {
      const bool wins = !taken[size_t(k)] && x[size_t(k)] == y.data<float>()[k];
      taken[size_t(k)] |= wins;
      p[k] = wins ? dy[k] : 0.0f;
    }
    if (ctx.wants(i)) ctx.input_grads[i] = reduce_to_shape(ctx, g, ctx.input_shapes[i]);
  }
  return Status::Ok();
}

template <class F>
Status masked(BackwardContext& ctx, F pass) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  const Tensor& x = ctx.input(0);
  EMBER_TRY(require_f32(ctx, x, "the input"));
  Tensor dx = ctx.allocate(ctx.input_shapes[0]);
  const float* g = ctx.output_grad(0).data<float>();
  float* out = dx.mutable_data<float>();
  for (int64_t i = 0; i < dx.numel(); ++i) out[i] = g[i] * pass(x.data<float>()[i]);
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

Result<float> bound(const BackwardContext& ctx, size_t index, const char* attr, float fallback) {
  if (ctx.opset < 11) return ctx.node.attr_float(attr, fallback);
  if (!ctx.has_input(index)) return fallback;
  EMBER_TRY(require_f32(ctx, ctx.input(index), attr));
  return ctx.input(index).data<float>()[0];
}

Status clip_backward(BackwardContext& ctx) {
  EMBER_ASSIGN_OR_RETURN(const float lo, bound(ctx, 1, "min", -FLT_MAX));
  EMBER_ASSIGN_OR_RETURN(const float hi, bound(ctx, 2, "max", FLT_MAX));
  return masked(ctx, [lo, hi](float v) { return v >= lo && v <= hi ? 1.0f : 0.0f; });
}

Status hard_sigmoid_backward(BackwardContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.2f), beta = ctx.node.attr_float("beta", 0.5f);
  return masked(ctx, [alpha, beta](float v) {
    const float t = alpha * v + beta;
    return t > 0.0f && t < 1.0f ? alpha : 0.0f;
  });
}

Status hard_swish_backward(BackwardContext& ctx) {
  return masked(ctx, [](float v) { return v < -3.0f ? 0.0f : v > 3.0f ? 1.0f : v / 3.0f + 0.5f; });
}

}  // namespace

void register_clamp_grads(GradRegistry& r) {
  r.add("Max", kAllIndices, needs_inputs_and_output, max_min_backward);
  r.add("Min", kAllIndices, needs_inputs_and_output, max_min_backward);
  r.add("Clip", bit(0), needs_all_inputs, clip_backward);
  r.add("HardSigmoid", bit(0), needs_input0, hard_sigmoid_backward);
  r.add("HardSwish", bit(0), needs_input0, hard_swish_backward);
}

}  // namespace ember::runtime::grad

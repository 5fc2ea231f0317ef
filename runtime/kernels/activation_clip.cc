// Clip and PRelu.
//   Clip: y = min(max(x, lo), hi). Opset 6 reads lo/hi from float attributes, opset 11 on
//   from optional one-element inputs; a missing bound is the type's lowest/highest value.
//   When lo > hi every element becomes hi, as numpy.clip does.
//   PRelu: y = x < 0 ? slope * x : x, with slope broadcast to x's shape (unidirectionally).
//   Before opset 7 a 1-D slope holds one value per channel (dim 1).
#include <algorithm>
#include <limits>
#include <string>

#include "runtime/kernels/activation_ops.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"

namespace ember::runtime {
namespace {

template <class T>
void clip_values(const Tensor& x, Tensor& out, T lo, T hi) {
  map_unary(x.data<T>(), out.mutable_data<T>(), x.numel(), [lo, hi](T v) { return std::min(std::max(v, lo), hi); });
}

// Reads bound input `index` of type T, or `fallback` when omitted.
template <class T>
Result<T> read_bound(const RunContext& ctx, size_t index, T fallback) {
  if (!ctx.has_input(index)) return fallback;
  const Tensor& t = ctx.input(index);
  if (t.dtype() != ctx.input(0).dtype())
    return invalid_input(ctx.where() + ": bound input " + std::to_string(index) + " must have the input's type " +
                         std::string(dtype_name(ctx.input(0).dtype())));
  if (t.numel() != 1)
    return invalid_input(ctx.where() + ": bound input " + std::to_string(index) + " must hold one value, got shape " +
                         shape_to_string(t.shape()));
  return t.data<T>()[0];
}

}  // namespace

Status run_clip_with_attributes(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  const float lo = ctx.node.attr_float("min", std::numeric_limits<float>::lowest());
  const float hi = ctx.node.attr_float("max", std::numeric_limits<float>::max());
  return dispatch_types<TypeSet::kFloat>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // The defaults stand for "no bound", also for double inputs beyond float's range.
    const T tlo = lo == std::numeric_limits<float>::lowest() ? std::numeric_limits<T>::lowest() : T(lo);
    const T thi = hi == std::numeric_limits<float>::max() ? std::numeric_limits<T>::max() : T(hi);
    clip_values<T>(x, ctx.allocate_output(0, x.dtype(), x.shape()), tlo, thi);
  });
}

Status run_clip(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 1, 3));
  const Tensor& x = ctx.input(0);
  Status bounds = Status::Ok();
  Status dispatched = dispatch_types<TypeSet::kNumber>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto lo = read_bound<T>(ctx, 1, std::numeric_limits<T>::lowest());
    auto hi = read_bound<T>(ctx, 2, std::numeric_limits<T>::max());
    if (!lo.ok() || !hi.ok()) {
      bounds = lo.ok() ? hi.status() : lo.status();
      return;
    }
    clip_values<T>(x, ctx.allocate_output(0, x.dtype(), x.shape()), *lo, *hi);
  });
  EMBER_TRY(dispatched);
  return bounds;
}

Status run_prelu(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  EMBER_TRY(require_same_dtype(ctx, 0, 1));
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({x.shape(), slope.shape()}, ctx.where()));
  if (shape != x.shape())
    return invalid_input(ctx.where() + ": slope shape " + shape_to_string(slope.shape()) +
                         " does not broadcast to the input shape " + shape_to_string(x.shape()));
  return dispatch_types<TypeSet::kNumber>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.allocate_output(0, x.dtype(), x.shape());
    broadcast_binary<T, T, T>(x, slope, out, [](T v, T s) -> T {
      if constexpr (std::is_unsigned_v<T>) {
        return v;
      } else {
        return v < 0 ? static_cast<T>(s * v) : v;
      }
    });
  });
}

Status run_prelu_per_channel(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  if (slope.rank() != 1 || x.rank() < 3 || slope.dim(0) != x.dim(1) || slope.dim(0) == 1) return run_prelu(ctx);
  Shape per_channel(static_cast<size_t>(x.rank() - 1), 1);
  per_channel[0] = slope.dim(0);
  const Tensor slope_view = slope.reshaped(per_channel);
  const std::vector<const Tensor*> inputs = {&x, &slope_view};
  RunContext inner{ctx.node, inputs, ctx.outputs, ctx.allocator};
  return run_prelu(inner);
}

}  // namespace ember::runtime

// The shape of every one-input, one-output pointwise kernel (Sqrt, Relu, IsNaN...): check
// the input, dispatch on its type, allocate a same-shaped output and map the op over it.
#pragma once
#include <type_traits>

#include "runtime/kernel.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/numeric_dispatch.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/parallel.h"

namespace ember::runtime {

// `op(T)` returns the new value; ops returning bool (IsNaN) produce a bool output, all
// others an output of the input's type.
template <TypeSet S, class Op>
Status run_map(RunContext& ctx, const Op& op, int64_t grain = kElementwiseGrain) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  return dispatch_types<S>(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using R = decltype(op(T{}));
    using TO = std::conditional_t<std::is_same_v<R, bool>, bool, T>;
    Tensor& y = ctx.allocate_output(0, DTypeOf<TO>::value, x.shape());
    map_unary(x.data<T>(), y.mutable_data<TO>(), x.numel(), op, grain);
  });
}

// As run_map, but float32 inputs go through `f32(x, y, n)`, a whole-array function of
// vector_math.h compiled per ISA; other types use `op`.
using F32ArrayFunction = void (*)(const float*, float*, int64_t);
template <TypeSet S, class Op>
Status run_map_f32(RunContext& ctx, const Op& op, F32ArrayFunction f32, int64_t grain) {
  EMBER_TRY(require_inputs(ctx, 1, 1));
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kF32) return run_map<S>(ctx, op, grain);
  Tensor& y = ctx.allocate_output(0, DType::kF32, x.shape());
  const float* in = x.data<float>();
  float* out = y.mutable_data<float>();
  parallel_for(x.numel(), grain, [&](int64_t begin, int64_t end) { f32(in + begin, out + begin, end - begin); });
  return Status::Ok();
}

}  // namespace ember::runtime

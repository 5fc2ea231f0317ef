// Helpers shared by the backward-rule families: f32 checks, the adjoint of numpy
// broadcasting (sum over the broadcast axes), accumulation, and reading attributes or
// small integer inputs the way the forward kernels do.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/grad/grad_rule.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/reduce_plan.h"
#include "runtime/parallel.h"

namespace ember::runtime::grad {

// Error unless every present forward value the rule reads is f32.
Status require_f32(const BackwardContext& ctx, const Tensor& t, const std::string& what);

// dL/dX for an input of shape `target` that was broadcast to grad.shape(): sums over the
// broadcast axes. Returns `grad` itself (a view) when the shapes already match.
Tensor reduce_to_shape(const BackwardContext& ctx, const Tensor& grad, const Shape& target);

// `t` broadcast to `shape` (a new contiguous tensor).
Tensor broadcast_to(const BackwardContext& ctx, const Tensor& t, const Shape& shape);

// z = a * b with numpy broadcasting of a and b into `out_shape`.
Tensor multiply_broadcast(const BackwardContext& ctx, const Tensor& a, const Tensor& b, const Shape& out_shape);

// `t` as f32: itself when it already is, else a converted copy (integer exponents, f16...).
Result<Tensor> as_f32(const Tensor& t);

// A new f32 tensor of `shape` with z[i] = op(dy[i], x[i], ...) where the operands are
// broadcast to `shape`; op sees the already-broadcast values.
template <class Op>
Tensor map_broadcast2(const BackwardContext& ctx, const Tensor& a, const Tensor& b, const Shape& shape, const Op& op);

// dX_0 = f(dy, v) elementwise, v the saved forward value (input 0 or output 0, X_0's shape);
// nothing when no gradient reaches the node or input 0 is not wanted.
template <class F>
Status pointwise_backward(BackwardContext& ctx, const Tensor& saved, F f);

// fn(o, i) for every input element i of a reduction and its output element o, in a fixed
// sequential order (sums over it do not depend on the thread count).
template <class F>
void for_each_reduced(const ReducePlan& plan, F&& fn) {
  for_each_run(plan.runs, 0, plan.runs.numel,
               [&](const std::array<int64_t, 1>& o, int64_t i, int64_t len, const std::array<int64_t, 1>& stride) {
                 for (int64_t k = 0; k < len; ++k) fn(size_t(o[0] + k * stride[0]), i + k);
               });
}

// Sums of n floats (float lanes, vectorized; the rows they serve are short).
double sum_f32(const float* x, int64_t n);
double dot_f32(const float* x, const float* y, int64_t n);

// Reads the integer list of input `index` (a saved or constant forward input), naming the node.
Result<std::vector<int64_t>> read_int_input(const BackwardContext& ctx, size_t index);

// The axes of a Reduce* node as the forward kernel reads them (attribute before opset
// `axes_input_since`, input 1 from then on); `noop` when the op returned its input.
Result<std::vector<int64_t>> read_reduce_axes(const BackwardContext& ctx, int axes_input_since, bool* noop);

// Needs functions for the common cases.
GradNeeds needs_nothing(const ir::Node&, IndexMask);
GradNeeds needs_all_inputs(const ir::Node&, IndexMask);
GradNeeds needs_output0(const ir::Node&, IndexMask);
GradNeeds needs_input0(const ir::Node&, IndexMask);

template <class Op>
Tensor map_broadcast2(const BackwardContext& ctx, const Tensor& a, const Tensor& b, const Shape& shape, const Op& op) {
  Tensor out = ctx.allocate(shape);
  broadcast_binary<float, float, float>(a, b, out, op);
  return out;
}

template <class F>
Status pointwise_backward(BackwardContext& ctx, const Tensor& saved, F f) {
  if (!ctx.has_output_grad(0) || !ctx.wants(0)) return Status::Ok();
  EMBER_TRY(require_f32(ctx, saved, "the saved value"));
  Tensor dx = ctx.allocate(ctx.input_shapes[0]);
  const float* g = ctx.output_grad(0).data<float>();
  const float* v = saved.data<float>();
  float* out = dx.mutable_data<float>();
  parallel_for(dx.numel(), kTranscendentalGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) out[i] = f(g[i], v[i]);
  });
  ctx.input_grads[0] = std::move(dx);
  return Status::Ok();
}

}  // namespace ember::runtime::grad

// Helpers shared by the backward-rule families: f32 checks, the adjoint of numpy
// broadcasting (sum over the broadcast axes), accumulation, and reading attributes or
// small integer inputs the way the forward kernels do.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/grad/grad_rule.h"
#include "runtime/kernels/broadcast_loop.h"

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

// Sums of n floats (float lanes, vectorized; the rows they serve are short).
double sum_f32(const float* x, int64_t n);
double dot_f32(const float* x, const float* y, int64_t n);

// Reads the integer list of input `index` (a saved or constant forward input), naming the node.
Result<std::vector<int64_t>> read_int_input(const BackwardContext& ctx, size_t index);

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

}  // namespace ember::runtime::grad

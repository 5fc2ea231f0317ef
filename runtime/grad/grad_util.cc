#include "runtime/grad/grad_util.h"

#include <array>
#include <cstring>

#include "runtime/gemm/sgemm.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/shape_strided_copy.h"

namespace ember::runtime::grad {

Status require_f32(const BackwardContext& ctx, const Tensor& t, const std::string& what) {
  if (t.dtype() == DType::kF32) return Status::Ok();
  return unsupported(ctx.where() + ": gradients are computed in f32, but " + what + " is " +
                     std::string(dtype_name(t.dtype())));
}

void FactoredGrad::pack_right() {
  if (!packed_right && depth > 0 && width > 0)
    packed_right =
        std::make_shared<const PackedMatrixB>(PackedMatrixB::pack(false, depth, width, right.data<float>(), width, inputs));
}

void FactoredGrad::compute_rows(int64_t r0, int64_t r1, float* out) const {
  const float* a = left.data<float>() + r0;  // op(A) = left^T: its rows are left's columns
  if (packed_right) sgemm_packed_prefix(true, r1 - r0, depth, width, alpha, a, rows, *packed_right, out, width);
  else sgemm(true, false, r1 - r0, width, depth, alpha, a, rows, right.data<float>(), width, 0.0f, out, width, inputs);
}

Tensor FactoredGrad::materialize(const Shape& shape, TensorAllocator* allocator) const {
  Tensor g = allocator ? allocator->allocate(DType::kF32, shape) : Tensor::zeros(DType::kF32, shape);
  compute_rows(0, rows, g.mutable_data<float>());
  return g;
}

Tensor BackwardContext::allocate(const Shape& shape) const {
  return allocator ? allocator->allocate(DType::kF32, shape) : Tensor::zeros(DType::kF32, shape);
}

Tensor BackwardContext::zeros(const Shape& shape) const {
  if (!allocator) return Tensor::zeros(DType::kF32, shape);
  Tensor t = allocator->allocate(DType::kF32, shape);
  if (t.nbytes()) std::memset(t.raw_mutable(), 0, t.nbytes());
  return t;
}

Tensor reduce_to_shape(const BackwardContext& ctx, const Tensor& grad, const Shape& target) {
  if (grad.shape() == target) return grad;
  Tensor out = ctx.zeros(target);
  const BroadcastPlan<2> plan = plan_broadcast<2>({&target, &grad.shape()}, grad.shape());
  float* acc = out.mutable_data<float>();
  const float* g = grad.data<float>();
  // Sequential: different output runs may add into the same target element.
  for_each_run(plan, 0, plan.numel, [&](const std::array<int64_t, 2>& off, int64_t, int64_t len,
                                        const std::array<int64_t, 2>& st) {
    float* a = acc + off[0];
    const float* x = g + off[1];
    if (st[0] == 0) {
      double sum = 0;
      for (int64_t i = 0; i < len; ++i) sum += x[i * st[1]];
      *a += static_cast<float>(sum);
    } else if (st[0] == 1 && st[1] == 1) {  // a bias: rows of the gradient add into it
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) a[i] += x[i];
    } else {
      for (int64_t i = 0; i < len; ++i) a[i * st[0]] += x[i * st[1]];
    }
  });
  return out;
}

Tensor broadcast_to(const BackwardContext& ctx, const Tensor& t, const Shape& shape) {
  Tensor out = ctx.allocate(shape);
  copy_strided(t.data<float>(), out.mutable_data<float>(), shape, broadcast_strides(t.shape(), shape));
  return out;
}

Tensor multiply_broadcast(const BackwardContext& ctx, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor out = ctx.allocate(out_shape);
  const bool same = a.shape() == out_shape && b.shape() == out_shape;
  if (same || (a.shape() == out_shape && b.numel() == 1)) {  // the common cases, as plain loops
    const float* x = a.data<float>();
    const float* y = b.data<float>();
    float* z = out.mutable_data<float>();
    parallel_for(out.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      if (same) {
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) z[i] = x[i] * y[i];
      } else {
        const float s = y[0];
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) z[i] = x[i] * s;
      }
    });
    return out;
  }
  broadcast_binary<float, float, float>(a, b, out, [](float x, float y) { return x * y; });
  return out;
}

Result<Tensor> as_f32(const Tensor& t) {
  if (t.dtype() == DType::kF32) return t;
  EMBER_ASSIGN_OR_RETURN(std::vector<float> values, t.to_floats());
  return Tensor::from_vector<float>(t.shape(), values);
}

double sum_f32(const float* x, int64_t n) {
  float total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += x[i];
  return total;
}

double dot_f32(const float* x, const float* y, int64_t n) {
  float total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += x[i] * y[i];
  return total;
}

Result<std::vector<int64_t>> read_int_input(const BackwardContext& ctx, size_t index) {
  if (!ctx.has_input(index)) return std::vector<int64_t>{};
  auto values = ctx.input(index).to_int64s();
  if (!values.ok()) return values.status().with_context(ctx.where() + " input " + std::to_string(index));
  return values;
}

Result<std::vector<int64_t>> read_reduce_axes(const BackwardContext& ctx, int axes_input_since, bool* noop) {
  *noop = false;
  if (ctx.opset < axes_input_since) return ctx.node.attr_ints("axes");
  EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> axes, read_int_input(ctx, 1));
  *noop = axes.empty() && ctx.node.attr_int("noop_with_empty_axes", 0) != 0;
  return axes;
}

GradNeeds needs_nothing(const ir::Node&, IndexMask) { return {}; }
GradNeeds needs_all_inputs(const ir::Node&, IndexMask) { return {kAllIndices, 0}; }
GradNeeds needs_output0(const ir::Node&, IndexMask) { return {0, bit(0)}; }
GradNeeds needs_input0(const ir::Node&, IndexMask) { return {bit(0), 0}; }

}  // namespace ember::runtime::grad

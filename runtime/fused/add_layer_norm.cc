// ember.fused AddLayerNorm (optimizer/rewrite_float.h).
#include <vector>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/kernels/normalization_ops.h"
#include "runtime/parallel.h"

namespace ember::runtime::fused {
namespace {

// ember.fused AddLayerNorm(A, B, scale, bias?) -> (Y, Sum?) (rewrite_float.h): the residual
// Add and the LayerNormalization after it. Each row of A + B is made and normalised while it
// is in cache, and written as Sum only when something else reads it; the same arithmetic as
// the two ops, so the same results. Operands that broadcast are summed first, then normalised.
Status run_add_layer_norm(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 3, 4));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype() != DType::kF32) return unsupported_dtype(ctx, ctx.input(i).dtype());
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({a.shape(), b.shape()}, ctx.where()));
  EMBER_ASSIGN_OR_RETURN(int axis, normalize_axis(ctx.node.attr_int("axis", -1), int(shape.size()), ctx.where()));
  const double epsilon = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(shape.begin() + axis, shape.end());
  EMBER_ASSIGN_OR_RETURN(Tensor scale, expand_input_to(ctx, 2, norm_shape));
  Tensor bias;
  if (ctx.has_input(3)) {
    EMBER_ASSIGN_OR_RETURN(bias, expand_input_to(ctx, 3, norm_shape));
  }
  const int64_t n = shape_numel(norm_shape);
  const int64_t rows = n ? shape_numel(shape) / n : 0;
  float* y = ctx.allocate_output(0, DType::kF32, shape).mutable_data<float>();
  const bool same_shape = a.shape() == b.shape();
  // The sum is stored when it is an output or must be broadcast first; else a row at a time.
  Tensor local_sum;
  Tensor* sum_tensor = nullptr;
  if (wants_output(ctx, 1)) {
    sum_tensor = &ctx.allocate_output(1, DType::kF32, shape);
  } else if (!same_shape) {
    local_sum = Tensor::zeros(DType::kF32, shape);
    sum_tensor = &local_sum;
  }
  if (!same_shape) broadcast_binary<float, float, float>(a, b, *sum_tensor, [](float x, float z) { return x + z; });
  float* sum = sum_tensor ? sum_tensor->mutable_data<float>() : nullptr;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* s = scale.data<float>();
  const float* bs = bias.defined() ? bias.data<float>() : nullptr;
  parallel_for(rows, rows_per_chunk(n), [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(sum ? 0 : size_t(n));
    for (int64_t r = begin; r < end; ++r) {
      float* row = sum ? sum + r * n : scratch.data();
      if (same_shape) blocked_loop(0, n, [&](int64_t i) { row[i] = pa[r * n + i] + pb[r * n + i]; });
      layer_norm_row_f32(row, n, epsilon, s, bs, y + r * n);
    }
  });
  return Status::Ok();
}

// With f16/bf16 X the statistics stay f32 (stash_type=1, the only type ONNX defines).

}  // namespace

void register_add_layer_norm_kernel(KernelRegistry& registry) {
  registry.add_function(kAddLayerNorm, kDomain, 1, run_add_layer_norm);
}

}  // namespace ember::runtime::fused

// ember.fused AddSoftmax (optimizer/rewrite_float.h).
#include <array>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/kernels/activation_ops.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/parallel.h"

namespace ember::runtime::fused {
namespace {

// ember.fused AddSoftmax(A, B) = Softmax(A + B) over the last axis (rewrite_float.h):
// attention's additive mask, added to each row of scores while it is in cache. A and B
// broadcast (masks are [B, 1, 1, S] or [1, 1, S, S]); the same float additions and the same
// softmax as the two ops, so the same results.
Status run_add_softmax(RunContext& ctx) {
  EMBER_TRY(require_inputs(ctx, 2, 2));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != DType::kF32) return unsupported_dtype(ctx, a.dtype());
  if (b.dtype() != DType::kF32) return unsupported_dtype(ctx, b.dtype());
  EMBER_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes({a.shape(), b.shape()}, ctx.where()));
  Tensor& out = ctx.allocate_output(0, DType::kF32, shape);
  if (out.numel() == 0) return Status::Ok();
  if (shape.empty()) shape = {1};
  const size_t rank = shape.size();
  const int64_t n = shape.back(), rows = out.numel() / n;
  const std::vector<int64_t> sa = broadcast_strides(a.shape(), shape), sb = broadcast_strides(b.shape(), shape);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* y = out.mutable_data<float>();
  parallel_for(rows, rows_per_chunk(n, kTranscendentalGrain), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const std::array<int64_t, 2> offsets = offsets_of<2>(r, shape, rank - 1, {sa.data(), sb.data()});
      const int64_t oa = offsets[0], ob = offsets[1];  // named copies: clang 14 cannot capture bindings
      float* row = y + r * n;
      const int64_t la = sa[rank - 1], lb = sb[rank - 1];
      if (la == 1 && lb == 1) {  // the common case, split out so that it vectorises
        blocked_loop(0, n, [&](int64_t i) { row[i] = pa[oa + i] + pb[ob + i]; });
      } else {
        for (int64_t i = 0; i < n; ++i) row[i] = pa[oa + i * la] + pb[ob + i * lb];
      }
      softmax_row(row, row, n);
    }
  });
  return Status::Ok();
}

}  // namespace

void register_add_softmax_kernel(KernelRegistry& registry) { registry.add_function(kAddSoftmax, kDomain, 1, run_add_softmax); }

}  // namespace ember::runtime::fused

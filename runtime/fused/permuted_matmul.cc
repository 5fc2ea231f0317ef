// ember.fused PermutedMatMul (fused_ops.h): MatMul over transposed views, with no copies.
//
// Before (attention in BERT / GPT-2 exports):
//   Transpose(Q, 0 2 1 3) -> MatMul <- Transpose(K, 0 2 3 1);  MatMul -> Transpose(0 2 1 3)
// After:
//   PermutedMatMul{perm_a, perm_b, perm_y}(Q, K)
// The transposed operands are strided views (permuted_view.h) that sgemm reads in place. The
// output transpose is the same in reverse: the product lands in place when perm_y keeps the
// last axis last. alpha scales the product (attention's 1 / sqrt(d)).
#include <algorithm>
#include <memory>
#include <numeric>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/fused/fused_util.h"
#include "runtime/fused/permuted_view.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/kernels/kernel_util.h"

namespace ember::runtime::fused {
namespace {

class PermutedMatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    perm_a_ = ctx.node.attr_ints("perm_a");
    perm_b_ = ctx.node.attr_ints("perm_b");
    alpha_ = ctx.node.attr_float("alpha", 1.0f);
    EMBER_ASSIGN_OR_RETURN(perm_y_, output_perm(ctx.node));
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != DType::kF32 || b.dtype() != DType::kF32) return unsupported_dtype(ctx, a.dtype());
    EMBER_ASSIGN_OR_RETURN(View va, permuted_view(a.shape(), perm_a_, where));
    EMBER_ASSIGN_OR_RETURN(View vb, permuted_view(b.shape(), perm_b_, where));
    if (va.shape.size() < 2 || vb.shape.size() < 2)
      return invalid_input(where + ": both operands must have rank >= 2, got " + shape_to_string(va.shape) + " and " +
                           shape_to_string(vb.shape));
    const size_t rank = std::max(va.shape.size(), vb.shape.size());
    // Left-pad the batch axes with size-1 axes (which broadcast).
    pad_view(va, rank);
    pad_view(vb, rank);
    const int64_t M = va.shape[rank - 2], K = va.shape[rank - 1], N = vb.shape[rank - 1];
    if (vb.shape[rank - 2] != K)
      return invalid_input(where + ": inner dimensions differ, A is " + shape_to_string(va.shape) + " and B is " +
                           shape_to_string(vb.shape));
    Shape product(rank);
    for (size_t i = 0; i + 2 < rank; ++i) {
      const int64_t da = va.shape[i], db = vb.shape[i];
      if (da != db && da != 1 && db != 1)
        return invalid_input(where + ": batch axes " + shape_to_string(va.shape) + " and " + shape_to_string(vb.shape) +
                             " do not broadcast");
      product[i] = std::max(da, db);
      if (da == 1) va.strides[i] = 0;
      if (db == 1) vb.strides[i] = 0;
    }
    product[rank - 2] = M;
    product[rank - 1] = N;
    EMBER_ASSIGN_OR_RETURN(MatrixLayout la, matrix_layout(va, where, "A"));
    EMBER_ASSIGN_OR_RETURN(MatrixLayout lb, matrix_layout(vb, where, "B"));

    // The output: the product transposed by perm_y, written in place through strides.
    Shape out_shape;
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> y_strides, permuted_output_strides(product, perm_y_, out_shape, where));
    float* y = ctx.allocate_output(0, DType::kF32, out_shape).mutable_data<float>();
    if (shape_numel(out_shape) == 0) return Status::Ok();

    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    const int64_t batches = shape_numel(Shape(product.begin(), product.end() - 2));
    for_each_batch(batches, M * N * K, [&](int64_t batch) {
      const auto [oa, ob, oy] =
          offsets_of<3>(batch, product, rank - 2, {va.strides.data(), vb.strides.data(), y_strides.data()});
      sgemm(la.trans, lb.trans, M, N, K, alpha_, pa + oa, la.ld, pb + ob, lb.ld, 0.0f, y + oy, y_strides[rank - 2]);
    });
    return Status::Ok();
  }

 private:
  std::vector<int64_t> perm_a_, perm_b_, perm_y_;
  float alpha_ = 1.0f;
};

}  // namespace

void register_permuted_matmul_kernel(KernelRegistry& registry) {
  registry.add(kPermutedMatMul, kDomain, 1, [] { return std::make_unique<PermutedMatMulKernel>(); });
}

}  // namespace ember::runtime::fused

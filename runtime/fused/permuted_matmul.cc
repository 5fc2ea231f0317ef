// ember.fused PermutedMatMul (fused_ops.h): MatMul over transposed views, with no copies.
//
// Before (attention in BERT / GPT-2 exports):
//   Transpose(Q, 0 2 1 3) -> MatMul <- Transpose(K, 0 2 3 1);  MatMul -> Transpose(0 2 1 3)
// After:
//   PermutedMatMul{perm_a, perm_b, perm_y}(Q, K)
// A transposed view of a contiguous tensor is a strided one: view axis i has the stride of
// stored axis perm[i]. When the view's last two axes include the stored last axis (stride 1),
// each batch matrix is an ordinary row-major (or transposed) matrix with a row stride, which
// sgemm takes as it is; batch axes become offsets (stride 0 where they broadcast). The output
// transpose is the same in reverse: product axis a is written with the stride of output axis
// inv(perm_y)[a], so the product lands in place when perm_y keeps the last axis last. alpha
// scales the product (attention's 1 / sqrt(d)).
#include <algorithm>
#include <memory>
#include <numeric>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/fused/fused_util.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/kernels/kernel_util.h"

namespace ember::runtime::fused {
namespace {

// The view Transpose(t, perm) (perm empty: t itself) as shape and element strides.
struct View {
  Shape shape;
  std::vector<int64_t> strides;
};

Result<View> permuted_view(const Shape& shape, const std::vector<int64_t>& perm, const std::string& where) {
  const std::vector<int64_t> stored = contiguous_strides(shape);
  if (perm.empty()) return View{shape, stored};
  if (perm.size() != shape.size())
    return invalid_input(where + ": perm of " + std::to_string(perm.size()) + " axes for an input of shape " +
                         shape_to_string(shape));
  View v;
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(shape.size())) return invalid_input(where + ": perm entry " + std::to_string(p) + " out of range");
    v.shape.push_back(shape[size_t(p)]);
    v.strides.push_back(stored[size_t(p)]);
  }
  return v;
}

// One batch matrix of a view: sgemm's (trans, ld) for its last two axes.
struct MatrixLayout {
  bool trans = false;
  int64_t ld = 0;
};
Result<MatrixLayout> matrix_layout(const View& v, const std::string& where, const char* what) {
  const size_t r = v.shape.size();
  const int64_t rows = v.strides[r - 2], cols = v.strides[r - 1];
  if (cols == 1 || v.shape[r - 1] == 1) return MatrixLayout{false, std::max<int64_t>(rows, v.shape[r - 1])};
  if (rows == 1 || v.shape[r - 2] == 1) return MatrixLayout{true, std::max<int64_t>(cols, v.shape[r - 2])};
  return invalid_input(where + ": the " + what + " view has no unit-stride axis among its last two");
}

class PermutedMatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    perm_a_ = ctx.node.attr_ints("perm_a");
    perm_b_ = ctx.node.attr_ints("perm_b");
    perm_y_ = ctx.node.attr_ints("perm_y");
    alpha_ = ctx.node.attr_float("alpha", 1.0f);
    if (!perm_y_.empty() && perm_y_.back() != int64_t(perm_y_.size()) - 1)
      return invalid_input(where_of(ctx.node) + ": perm_y must keep the last axis last");
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
    for (View* v : {&va, &vb})
      while (v->shape.size() < rank) {
        v->shape.insert(v->shape.begin(), 1);
        v->strides.insert(v->strides.begin(), 0);
      }
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
    Shape out_shape = product;
    std::vector<int64_t> y_strides = contiguous_strides(product);
    if (!perm_y_.empty()) {
      if (perm_y_.size() != rank) return invalid_input(where + ": perm_y does not match the product's rank");
      for (size_t i = 0; i < rank; ++i) out_shape[i] = product[size_t(perm_y_[i])];
      const std::vector<int64_t> out_strides = contiguous_strides(out_shape);
      for (size_t i = 0; i < rank; ++i) y_strides[size_t(perm_y_[i])] = out_strides[i];
    }
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

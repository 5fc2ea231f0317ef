// Backward rules of the matmul family.
//   MatMul  Y = A B (numpy: batched, broadcast batch axes, 1-D operands promoted):
//           dA = dY B^T,  dB = A^T dY, each summed over the batch axes its operand was broadcast along.
//   Gemm    Y = alpha op(A) op(B) + beta C:
//           d op(A) = alpha dY op(B)^T,  d op(B) = alpha op(A)^T dY,  dC = beta * sum of dY over C's broadcast.
// A 2-D right operand (a weight) shared by every batch folds the batches into M, so the
// weight gradient is one GEMM over all rows, as in the forward pass. Where the interpreter
// allows (BackwardContext::factorable), a weight's gradient is handed on as its factors.
// Every product rounds its inputs as BackwardContext::products says (f32, or bf16 pairs).
#include <algorithm>
#include <vector>

#include "runtime/gemm/sgemm.h"
#include "runtime/grad/grad_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/parallel.h"

namespace ember::runtime::grad {
namespace {

// Multiply-adds of batched products below which a chunk stays on one thread.
constexpr int64_t kMinBatchedMacs = int64_t{1} << 20;

// op2 = the transposed right operand of dA = dY op2, packed once for a constant weight and
// kept in the node's cache (weights do not change between passes). B is stored
// [N, K] when `b_is_nk`, else [K, N].
const PackedMatrixB* packed_transposed_weight(BackwardContext& ctx, const float* b, int64_t K, int64_t N, bool b_is_nk) {
  if (!(ctx.constant_inputs & bit(1)) || !ctx.cache) return nullptr;
  if (!*ctx.cache) {
    auto packed = std::make_shared<PackedMatrixB>(b_is_nk ? PackedMatrixB::pack(false, N, K, b, K, ctx.products)
                                                          : PackedMatrixB::pack(true, N, K, b, N, ctx.products));
    *ctx.cache = packed;
  }
  return static_cast<const PackedMatrixB*>(ctx.cache->get());
}

// A needs B for dA and B needs A for dB.
GradNeeds needs_other_operand(const ir::Node&, IndexMask wanted) {
  GradNeeds n;
  if (wanted & bit(0)) n.inputs |= bit(1);
  if (wanted & bit(1)) n.inputs |= bit(0);
  return n;
}

struct MatMulGeometry {
  Shape a_batch, b_batch, out_batch;
  int64_t M = 1, K = 1, N = 1;
};

Result<MatMulGeometry> matmul_geometry(const BackwardContext& ctx) {
  const Shape& a = ctx.input_shapes[0];
  const Shape& b = ctx.input_shapes[1];
  if (a.empty() || b.empty()) return invalid_input(ctx.where() + ": MatMul operands must have rank >= 1");
  MatMulGeometry g;
  g.M = a.size() == 1 ? 1 : a[a.size() - 2];
  g.K = a.back();
  g.N = b.size() == 1 ? 1 : b.back();
  if (a.size() > 2) g.a_batch.assign(a.begin(), a.end() - 2);
  if (b.size() > 2) g.b_batch.assign(b.begin(), b.end() - 2);
  EMBER_ASSIGN_OR_RETURN(g.out_batch, broadcast_shapes({g.a_batch, g.b_batch}, ctx.where()));
  return g;
}

Status matmul_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(MatMulGeometry g, matmul_geometry(ctx));
  const float* dy = ctx.output_grad(0).data<float>();
  const int64_t M = g.M, K = g.K, N = g.N;
  const int64_t a_batches = shape_numel(g.a_batch), b_batches = shape_numel(g.b_batch);
  const int64_t batches = shape_numel(g.out_batch);
  // An operand visited once per output batch is written (beta = 0); one broadcast along
  // batch axes accumulates (beta = 1) into zeros, summing those batches.
  const bool fold = b_batches == 1 && a_batches == batches;
  const float beta_a = fold || a_batches == batches ? 0.0f : 1.0f;
  const float beta_b = fold || b_batches == batches ? 0.0f : 1.0f;
  Tensor da, db;
  const float* a = nullptr;
  const float* b = nullptr;
  if (ctx.wants(0)) {
    EMBER_TRY(require_f32(ctx, ctx.input(1), "B"));
    b = ctx.input(1).data<float>();
    da = beta_a == 0.0f ? ctx.allocate(ctx.input_shapes[0]) : ctx.zeros(ctx.input_shapes[0]);
  }
  if (ctx.wants(1)) {
    EMBER_TRY(require_f32(ctx, ctx.input(0), "A"));
    a = ctx.input(0).data<float>();
    if (fold && ctx.may_factor(1) && ctx.input_shapes[1].size() == 2) {
      // dB = A^T dY over all rows: left to a sink that reduces it block by block.
      const int64_t rows = batches * M;
      ctx.factored_grads[1] = FactoredGrad{ctx.input(0).reshaped({rows, K}), ctx.output_grad(0).reshaped({rows, N}), rows, K, N,
                                           1.0f, ctx.products};
    } else {
      db = beta_b == 0.0f ? ctx.allocate(ctx.input_shapes[1]) : ctx.zeros(ctx.input_shapes[1]);
    }
  }
  if (fold) {
    // B is shared by every batch: fold A's batches into M.
    const int64_t rows = batches * M;
    if (da.defined()) {
      if (const PackedMatrixB* p = K > 1 && N > 1 ? packed_transposed_weight(ctx, b, K, N, false) : nullptr)
        sgemm_packed(rows, dy, N, *p, nullptr, da.mutable_data<float>(), K);
      else
        sgemm(false, true, rows, K, N, 1.0f, dy, N, b, N, 0.0f, da.mutable_data<float>(), K, ctx.products);
    }
    if (db.defined()) sgemm(true, false, K, N, rows, 1.0f, a, K, dy, N, 0.0f, db.mutable_data<float>(), N, ctx.products);
  } else if (a_batches == batches && b_batches == batches && batches > 1) {
    // Attention's per-head products: no broadcasting, so each batch writes its own slices of
    // dA and dB, and the batches run in parallel (each product is too small to split).
    const int64_t grain = std::max<int64_t>(1, kMinBatchedMacs / std::max<int64_t>(M * N * K, 1));
    parallel_for(batches, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t batch = b0; batch < b1; ++batch) {
        const float* dy_b = dy + batch * M * N;
        if (da.defined())
          sgemm(false, true, M, K, N, 1.0f, dy_b, N, b + batch * K * N, N, 0.0f, da.mutable_data<float>() + batch * M * K, K,
                ctx.products);
        if (db.defined())
          sgemm(true, false, K, N, M, 1.0f, a + batch * M * K, K, dy_b, N, 0.0f, db.mutable_data<float>() + batch * K * N, N,
                ctx.products);
      }
    });
  } else {
    const std::vector<int64_t> a_strides = broadcast_strides(g.a_batch, g.out_batch);
    const std::vector<int64_t> b_strides = broadcast_strides(g.b_batch, g.out_batch);
    std::vector<int64_t> index(g.out_batch.size(), 0);
    int64_t a_off = 0, b_off = 0;
    for (int64_t batch = 0; batch < batches; ++batch) {
      const float* dy_b = dy + batch * M * N;
      if (da.defined())
        sgemm(false, true, M, K, N, 1.0f, dy_b, N, b + b_off * K * N, N, beta_a, da.mutable_data<float>() + a_off * M * K, K,
              ctx.products);
      if (db.defined())
        sgemm(true, false, K, N, M, 1.0f, a + a_off * M * K, K, dy_b, N, beta_b, db.mutable_data<float>() + b_off * K * N, N,
              ctx.products);
      for (size_t axis = g.out_batch.size(); axis-- > 0;) {
        a_off += a_strides[axis];
        b_off += b_strides[axis];
        if (++index[axis] < g.out_batch[axis]) break;
        a_off -= a_strides[axis] * g.out_batch[axis];
        b_off -= b_strides[axis] * g.out_batch[axis];
        index[axis] = 0;
      }
    }
  }
  if (da.defined()) ctx.input_grads[0] = std::move(da);
  if (db.defined()) ctx.input_grads[1] = std::move(db);
  return Status::Ok();
}

Status gemm_backward(BackwardContext& ctx) {
  if (!ctx.has_output_grad(0)) return Status::Ok();
  const bool ta = ctx.node.attr_int("transA", 0) != 0;
  const bool tb = ctx.node.attr_int("transB", 0) != 0;
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  const float beta = ctx.node.attr_float("beta", 1.0f);
  const Shape& as = ctx.input_shapes[0];
  const Shape& bs = ctx.input_shapes[1];
  if (as.size() != 2 || bs.size() != 2) return invalid_input(ctx.where() + ": Gemm operands must be 2-D");
  const int64_t M = ta ? as[1] : as[0], K = ta ? as[0] : as[1];
  const int64_t N = tb ? bs[0] : bs[1];
  const int64_t lda = as[1], ldb = bs[1];
  const float* dy = ctx.output_grad(0).data<float>();
  if (ctx.wants(0)) {
    EMBER_TRY(require_f32(ctx, ctx.input(1), "B"));
    const float* b = ctx.input(1).data<float>();
    Tensor da = ctx.allocate(as);
    float* pa = da.mutable_data<float>();
    // d op(A) = alpha dY op(B)^T (M x K); A itself is its transpose when transA.
    const PackedMatrixB* packed = !ta && alpha == 1.0f ? packed_transposed_weight(ctx, b, K, N, tb) : nullptr;
    if (packed) sgemm_packed(M, dy, N, *packed, nullptr, pa, K);
    else if (!ta) sgemm(false, !tb, M, K, N, alpha, dy, N, b, ldb, 0.0f, pa, K, ctx.products);
    else sgemm(tb, true, K, M, N, alpha, b, ldb, dy, N, 0.0f, pa, M, ctx.products);
    ctx.input_grads[0] = std::move(da);
  }
  if (ctx.wants(1)) {
    EMBER_TRY(require_f32(ctx, ctx.input(0), "A"));
    const Tensor& a = ctx.input(0);
    if (ctx.may_factor(1) && !ta) {
      // d op(B) = alpha A^T dY, stored B = op(B) or (transB) its transpose alpha dY^T A: left
      // to a sink that reduces it block by block.
      const Tensor& dy_t = ctx.output_grad(0);
      ctx.factored_grads[1] = tb ? FactoredGrad{dy_t, a, M, N, K, alpha, ctx.products}
                                 : FactoredGrad{a, dy_t, M, K, N, alpha, ctx.products};
    } else {
      Tensor db = ctx.allocate(bs);
      float* pb = db.mutable_data<float>();
      // d op(B) = alpha op(A)^T dY (K x N); B itself is its transpose when transB.
      if (!tb) sgemm(!ta, false, K, N, M, alpha, a.data<float>(), lda, dy, N, 0.0f, pb, N, ctx.products);
      else sgemm(true, ta, N, K, M, alpha, dy, N, a.data<float>(), lda, 0.0f, pb, K, ctx.products);
      ctx.input_grads[1] = std::move(db);
    }
  }
  if (ctx.wants(2)) {
    Tensor dc = reduce_to_shape(ctx, ctx.output_grad(0), ctx.input_shapes[2]);
    if (beta != 1.0f) {  // into new storage: dc may be a view of dY
      Tensor scaled = ctx.allocate(dc.shape());
      const int64_t n = dc.numel();
      for (int64_t i = 0; i < n; ++i) scaled.mutable_data<float>()[i] = beta * dc.data<float>()[i];
      dc = scaled;
    }
    ctx.input_grads[2] = std::move(dc);
  }
  return Status::Ok();
}

}  // namespace

void register_matmul_grads(GradRegistry& r) {
  r.add("MatMul", bit(0) | bit(1), needs_other_operand, matmul_backward);
  r.add("Gemm", bit(0) | bit(1) | bit(2), needs_other_operand, gemm_backward);
}

}  // namespace ember::runtime::grad

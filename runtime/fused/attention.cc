// ember.fused Attention (fused_ops.h): the scores, mask, softmax and value product of
// attention in one pass over a block of query rows at a time.
//
// Before (after rewrite_float's PermutedMatMul and AddSoftmax fusions):
//   S = PermutedMatMul{perm_a = pq, perm_b = pk, alpha}(Q, K)     [..., M, N]
//   P = AddSoftmax(S, mask)
//   Y = PermutedMatMul{perm_b = pv, perm_y}(P, V)
// After:
//   Y = Attention{perm_q, perm_k, perm_v, perm_y, alpha}(Q, K, V, mask)
//
// For each batch matrix and block of R query rows [r0, r1):
//   S_blk = alpha Q[r0:r1] K^T          (R x e, in L2 rather than an [..., M, N] tensor
//   S_blk += mask[r0:r1, :e]              written and read twice)
//   P_blk = softmax of each row
//   Y[r0:r1] = P_blk V[:e]
// with the same GEMM kernels and softmax row routine as the unfused ops; K and V are packed
// once per head for all its blocks when there are heads enough to share out between the
// threads (else each block is a job of its own). The key extent e skips
// keys that no row of the block can see: a mask entry <= -1e30 (finfo.min, -inf) gives
// exp(s + mask - max) == 0 exactly whenever the row also has an entry >= -1e20 (so
// max > -2e29) and the scores are below 1e29 in magnitude; keys from e on then add exact
// zeros to the softmax sum and to P V, and are not computed. A causal mask (GPT-2) halves
// the work; rows with nothing visible keep every key. The results equal the unfused ops'
// up to the order of the softmax sum over the first e keys.
#include <algorithm>
#include <memory>
#include <vector>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/fused/fused_util.h"
#include "runtime/fused/permuted_view.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/kernels/activation_ops.h"
#include "runtime/kernels/broadcast_loop.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/op_inputs.h"
#include "runtime/parallel.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime::fused {
namespace {

constexpr int64_t kRowBlock = 8;         // query rows per block (one register tile): small blocks follow a causal mask closely
constexpr int64_t kKeyGranule = 16;      // the key extent is rounded up to whole vectors
constexpr float kMaskedOut = -1e30f;     // at or below: that key's probability is exactly 0
constexpr float kVisible = -1e20f;       // at or above: the row's max is far above masked keys

// The keys [0, e) a mask row leaves visible (n when it hides none, or when nothing is visible).
int64_t visible_extent(const float* mask, int64_t stride, int64_t n) {
  int64_t e = n;
  if (stride == 1) {
    e = vmath::extent_above(mask, n, kMaskedOut);
  } else {
    while (e > 0 && mask[(e - 1) * stride] <= kMaskedOut) --e;
  }
  if (e == n) return n;
  for (int64_t j = 0; j < e; ++j)
    if (mask[j * stride] >= kVisible) return e;
  return n;
}

// row += mask (blocked_loop, so that the contiguous case vectorises at -O2).
void add_mask(float* __restrict row, const float* __restrict mask, int64_t stride, int64_t n) {
  if (stride == 1) {
    blocked_loop(0, n, [&](int64_t j) { row[j] += mask[j]; });
  } else {
    for (int64_t j = 0; j < n; ++j) row[j] += mask[j * stride];
  }
}

class AttentionKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    perm_q_ = ctx.node.attr_ints("perm_q");
    perm_k_ = ctx.node.attr_ints("perm_k");
    perm_v_ = ctx.node.attr_ints("perm_v");
    alpha_ = ctx.node.attr_float("alpha", 1.0f);
    EMBER_ASSIGN_OR_RETURN(perm_y_, output_perm(ctx.node));
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    EMBER_TRY(require_inputs(ctx, 4, 4));
    for (size_t i = 0; i < 4; ++i)
      if (ctx.input(i).dtype() != DType::kF32) return unsupported_dtype(ctx, ctx.input(i).dtype());
    const Tensor& mask = ctx.input(3);
    EMBER_ASSIGN_OR_RETURN(View vq, permuted_view(ctx.input(0).shape(), perm_q_, where));
    EMBER_ASSIGN_OR_RETURN(View vk, permuted_view(ctx.input(1).shape(), perm_k_, where));
    EMBER_ASSIGN_OR_RETURN(View vv, permuted_view(ctx.input(2).shape(), perm_v_, where));
    View vm{mask.shape(), contiguous_strides(mask.shape())};
    if (vq.shape.size() < 2 || vk.shape.size() < 2 || vv.shape.size() < 2)
      return invalid_input(where + ": Q, K and V must have rank >= 2");
    const size_t rank = std::max({vq.shape.size(), vk.shape.size(), vv.shape.size(), vm.shape.size(), size_t(2)});
    for (View* v : {&vq, &vk, &vv, &vm}) pad_view(*v, rank);
    const int64_t M = vq.shape[rank - 2], D = vq.shape[rank - 1], N = vk.shape[rank - 1], Dv = vv.shape[rank - 1];
    if (vk.shape[rank - 2] != D || vv.shape[rank - 2] != N)
      return invalid_input(where + ": Q " + shape_to_string(vq.shape) + ", K " + shape_to_string(vk.shape) + " and V " +
                           shape_to_string(vv.shape) + " do not chain");
    const int64_t mm = vm.shape[rank - 2], mn = vm.shape[rank - 1];
    if ((mm != M && mm != 1) || (mn != N && mn != 1))
      return invalid_input(where + ": the mask " + shape_to_string(mask.shape()) + " does not broadcast to the scores [" +
                           std::to_string(M) + ", " + std::to_string(N) + "]");
    if (mm == 1) vm.strides[rank - 2] = 0;
    if (mn == 1) vm.strides[rank - 1] = 0;
    Shape product(rank);
    for (size_t i = 0; i + 2 < rank; ++i) {
      int64_t d = 1;
      for (const View* v : {&vq, &vk, &vv, &vm}) d = std::max(d, v->shape[i]);
      for (View* v : {&vq, &vk, &vv, &vm}) {
        if (v->shape[i] != d && v->shape[i] != 1)
          return invalid_input(where + ": the batch axes of Q, K, V and the mask do not broadcast");
        if (v->shape[i] == 1) v->strides[i] = 0;
      }
      product[i] = d;
    }
    product[rank - 2] = M;
    product[rank - 1] = Dv;
    EMBER_ASSIGN_OR_RETURN(MatrixLayout lq, matrix_layout(vq, where, "Q"));
    EMBER_ASSIGN_OR_RETURN(MatrixLayout lk, matrix_layout(vk, where, "K"));
    EMBER_ASSIGN_OR_RETURN(MatrixLayout lv, matrix_layout(vv, where, "V"));
    Shape out_shape;
    EMBER_ASSIGN_OR_RETURN(std::vector<int64_t> ys, permuted_output_strides(product, perm_y_, out_shape, where));
    float* y = ctx.allocate_output(0, DType::kF32, out_shape).mutable_data<float>();
    if (shape_numel(out_shape) == 0) return Status::Ok();
    if (N == 0) {  // softmax over no keys: an empty sum, as the unfused ops give
      std::fill(y, y + shape_numel(out_shape), 0.0f);
      return Status::Ok();
    }

    const float* q = ctx.input(0).data<float>();
    const float* k = ctx.input(1).data<float>();
    const float* v = ctx.input(2).data<float>();
    const float* m = mask.data<float>();
    const int64_t batches = shape_numel(Shape(product.begin(), product.end() - 2));
    const int64_t blocks = (M + kRowBlock - 1) / kRowBlock;
    const int64_t q_row = vq.strides[rank - 2], m_row = vm.strides[rank - 2], m_col = vm.strides[rank - 1];
    const int64_t y_row = ys[rank - 2];
    // The key extent of a row block: the furthest key any of its rows sees, in whole vectors.
    auto block_extent = [&](const float* mask_rows, int64_t rows) {
      int64_t e = 0;
      for (int64_t r = 0; r < (m_row == 0 ? 1 : rows) && e < N; ++r)
        e = std::max(e, visible_extent(mask_rows + r * m_row, m_col, N));
      return std::min(N, (e + kKeyGranule - 1) / kKeyGranule * kKeyGranule);
    };
    // A mask shared by every batch matrix (GPT-2's causal [1, 1, S, S]) is scanned once.
    const bool shared_mask = std::all_of(vm.strides.begin(), vm.strides.end() - 2, [](int64_t st) { return st == 0; });
    std::vector<int64_t> shared_extents;
    if (shared_mask)
      for (int64_t r0 = 0; r0 < M; r0 += kRowBlock)
        shared_extents.push_back(block_extent(m + r0 * m_row, std::min(kRowBlock, M - r0)));
    // A job is a batch matrix (head) when there are enough of them to share out: K and V are
    // then packed once for all its row blocks. Otherwise a job is one row block.
    const int64_t blocks_per_job = batches >= 2 * num_threads() ? blocks : 1;
    const int64_t jobs_per_batch = blocks / blocks_per_job;
    parallel_for(batches * jobs_per_batch, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> scores(size_t(kRowBlock * N));
      std::vector<int64_t> extents(static_cast<size_t>(blocks_per_job));
      for (int64_t job = begin; job < end; ++job) {
        const int64_t batch = job / jobs_per_batch, first = (job % jobs_per_batch) * blocks_per_job;
        const auto [oq, ok, ov, om, oy] = offsets_of<5>(
            batch, product, rank - 2,
            {vq.strides.data(), vk.strides.data(), vv.strides.data(), vm.strides.data(), ys.data()});
        int64_t widest = 0;
        for (int64_t b = 0; b < blocks_per_job; ++b) {
          const int64_t r0 = (first + b) * kRowBlock;
          extents[size_t(b)] = shared_mask ? shared_extents[size_t(first + b)]
                                           : block_extent(m + om + r0 * m_row, std::min(kRowBlock, M - r0));
          widest = std::max(widest, extents[size_t(b)]);
        }
        // Packing pays off only when blocks share it (a one-block job, a decode step or a short
        // sequence, multiplies the operands where they lie).
        const bool shared = blocks_per_job > 1;
        PackedMatrixB keys, values;
        if (shared) {
          keys = PackedMatrixB::pack(lk.trans, D, widest, k + ok, lk.ld);
          values = PackedMatrixB::pack(lv.trans, widest, Dv, v + ov, lv.ld);
        }
        for (int64_t b = 0; b < blocks_per_job; ++b) {
          const int64_t r0 = (first + b) * kRowBlock, rows = std::min(kRowBlock, M - r0), e = extents[size_t(b)];
          const float* mask_rows = m + om + r0 * m_row;
          const float* qb = q + oq + r0 * q_row;
          float* s = scores.data();
          float* yb = y + oy + r0 * y_row;
          if (shared)
            sgemm_packed_prefix(lq.trans, rows, D, e, alpha_, qb, lq.ld, keys, s, e);
          else
            sgemm(lq.trans, lk.trans, rows, e, D, alpha_, qb, lq.ld, k + ok, lk.ld, 0.0f, s, e);
          for (int64_t r = 0; r < rows; ++r) {
            float* row = s + r * e;
            add_mask(row, mask_rows + r * m_row, m_col, e);
            softmax_row(row, row, e);
          }
          if (shared)
            sgemm_packed_prefix(false, rows, e, Dv, 1.0f, s, e, values, yb, y_row);
          else
            sgemm(false, lv.trans, rows, Dv, e, 1.0f, s, e, v + ov, lv.ld, 0.0f, yb, y_row);
        }
      }
    });
    return Status::Ok();
  }

 private:
  std::vector<int64_t> perm_q_, perm_k_, perm_v_, perm_y_;
  float alpha_ = 1.0f;
};

}  // namespace

void register_attention_kernel(KernelRegistry& registry) {
  registry.add(kAttention, kDomain, 1, [] { return std::make_unique<AttentionKernel>(); });
}

}  // namespace ember::runtime::fused

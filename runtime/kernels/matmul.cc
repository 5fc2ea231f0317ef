// MatMul (numpy matmul: batched, broadcast batch axes, 1-D operands promoted and squeezed)
// and Gemm (Y = alpha * op(A) * op(B) + beta * C, C broadcast to [M, N]).
// float runs on sgemm; a constant float B is packed once in prepare and multiplied with
// sgemm_packed, with Gemm's alpha folded into the packed B and a row-broadcast C folded
// into the bias vector. Other numeric types use the plain loop of typed_gemm; f16/bf16
// operands are widened to f32 and run through a fresh kernel (half_fallback.h).
#include <algorithm>
#include <vector>

#include "ir/dtype_dispatch.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/gemm/sgemm.h"
#include "runtime/kernels/matmul_ops.h"
#include "runtime/kernels/half_fallback.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/typed_gemm.h"

namespace ember::runtime {
namespace {

bool is_matmul_dtype(DType d) {
  return d == DType::kF32 || d == DType::kF64 || d == DType::kI32 || d == DType::kI64 || d == DType::kU32 ||
         d == DType::kU64;
}

// Calls f(T{}) for the element types MatMul and Gemm accept.
template <class F>
Status dispatch_matmul_dtype(const RunContext& ctx, DType d, F&& f) {
  if (!is_matmul_dtype(d)) return unsupported_dtype(ctx, d);
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) f(T{});
  });
  return Status::Ok();
}

Status check_same_dtype(const RunContext& ctx, size_t a, size_t b) {
  if (ctx.input(a).dtype() == ctx.input(b).dtype()) return Status::Ok();
  return invalid_input(ctx.where() + ": inputs " + std::to_string(a) + " and " + std::to_string(b) +
                       " have different element types (" + std::string(dtype_name(ctx.input(a).dtype())) + " and " +
                       std::string(dtype_name(ctx.input(b).dtype())) + ")");
}

// Runs a freshly prepared kernel (no constants, so nothing packed) on widened f16/bf16 inputs.
// Opset checks already passed in the real kernel's prepare.
template <class K>
Status run_fresh(RunContext& ctx) {
  K kernel;
  EMBER_TRY(kernel.prepare(PrepareContext{ctx.node, 1 << 20, {}}));
  return kernel.run(ctx);
}

// ---------------------------------------------------------------------------------------------
// MatMul

// Also ember.fused MatMulBias (rewrite_float.h): a third, constant input of N values added
// in the packed GEMM's epilogue.
class MatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const Tensor* b = ctx.constant(1);
    if (b && b->dtype() == DType::kF32 && b->rank() == 2 && b->dim(0) > 0 && b->dim(1) > 0) {
      packed_b_ = PackedMatrixB::pack(false, b->dim(0), b->dim(1), b->data<float>(), b->dim(1));
      has_packed_b_ = true;
    }
    if (ctx.node.op_type == fused::kMatMulBias) {
      const Tensor* bias = ctx.constant(2);
      if (!has_packed_b_ || !bias || bias->dtype() != DType::kF32 || bias->numel() != b->dim(1))
        return invalid_input("node '" + ctx.node.name + "': MatMulBias needs a constant f32 B [K, N] and bias [N]");
      bias_ = bias->data<float>();
    }
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return invalid_input(ctx.where() + ": needs inputs A and B");
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    EMBER_TRY(check_same_dtype(ctx, 0, 1));
    if (is_half_dtype(a.dtype())) return run_widened_to_f32(ctx, run_fresh<MatMulKernel>);
    if (a.rank() == 0 || b.rank() == 0) return invalid_input(ctx.where() + ": MatMul operands must have rank >= 1");

    // Promote 1-D operands to matrices; the promoted axis is dropped from the output.
    Shape a_shape = a.shape(), b_shape = b.shape();
    const bool a_vector = a.rank() == 1, b_vector = b.rank() == 1;
    if (a_vector) a_shape.insert(a_shape.begin(), 1);
    if (b_vector) b_shape.push_back(1);
    const int64_t M = a_shape[a_shape.size() - 2], K = a_shape.back();
    const int64_t N = b_shape.back();
    if (b_shape[b_shape.size() - 2] != K)
      return invalid_input(ctx.where() + ": inner dimensions differ, A is " + shape_to_string(a.shape()) + " and B is " +
                           shape_to_string(b.shape()));
    const Shape a_batch(a_shape.begin(), a_shape.end() - 2), b_batch(b_shape.begin(), b_shape.end() - 2);
    EMBER_ASSIGN_OR_RETURN(Shape out_batch, broadcast_shapes({a_batch, b_batch}, ctx.where()));
    Shape out_shape = out_batch;
    if (!a_vector) out_shape.push_back(M);
    if (!b_vector) out_shape.push_back(N);
    Tensor& y = ctx.allocate_output(0, a.dtype(), out_shape);
    if (y.numel() == 0) return Status::Ok();

    const int64_t a_batches = shape_numel(a_batch), b_batches = shape_numel(b_batch);
    if (a.dtype() == DType::kF32 && has_packed_b_ && b.rank() == 2 && K > 0) {
      // Batch axes of A fold into M: one packed multiply over all rows.
      sgemm_packed(a_batches * M, a.data<float>(), K, packed_b_, bias_, y.mutable_data<float>(), N);
      return Status::Ok();
    }
    if (bias_) return invalid_input(ctx.where() + ": MatMulBias needs a float A with K > 0");
    return dispatch_matmul_dtype(ctx, a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* py = y.mutable_data<T>();
      if (b_batches == 1) {  // B shared by every batch: A's batches fold into M.
        typed_gemm<T>(false, false, a_batches * M, N, K, 1.0, pa, K, pb, N, 0.0, py, N);
        return;
      }
      const std::vector<int64_t> a_strides = broadcast_strides(a_batch, out_batch);
      const std::vector<int64_t> b_strides = broadcast_strides(b_batch, out_batch);
      const int64_t batches = shape_numel(out_batch);
      for_each_batch(batches, M * N * K, [&](int64_t batch) {
        const auto [a_offset, b_offset] =
            offsets_of<2>(batch, out_batch, out_batch.size(), {a_strides.data(), b_strides.data()});
        typed_gemm<T>(false, false, M, N, K, 1.0, pa + a_offset * M * K, K, pb + b_offset * K * N, N, 0.0,
                      py + batch * M * N, N);
      });
    });
  }

 private:
  PackedMatrixB packed_b_;
  bool has_packed_b_ = false;
  const float* bias_ = nullptr;  // MatMulBias: the constant bias (initializers outlive kernels)
};

// ---------------------------------------------------------------------------------------------
// Gemm

class GemmKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const ir::Node& node = ctx.node;
    trans_a_ = node.attr_int("transA", 0) != 0;
    trans_b_ = node.attr_int("transB", 0) != 0;
    alpha_ = node.attr_float("alpha", 1.0f);
    beta_ = node.attr_float("beta", 1.0f);
    if (ctx.opset < 11 && !node.has_input(2)) return invalid_input("Gemm before opset 11 requires input C");
    const Tensor* b = ctx.constant(1);
    if (!b || b->dtype() != DType::kF32 || b->rank() != 2 || b->numel() == 0) return Status::Ok();
    const int64_t K = trans_b_ ? b->dim(1) : b->dim(0);
    const int64_t N = trans_b_ ? b->dim(0) : b->dim(1);
    if (alpha_ == 1.0f) {
      packed_b_ = PackedMatrixB::pack(trans_b_, K, N, b->data<float>(), b->dim(1));
    } else {  // alpha folds into the packed weights: alpha * (A * B) == A * (alpha * B)
      std::vector<float> scaled(b->data<float>(), b->data<float>() + b->numel());
      for (float& v : scaled) v *= alpha_;
      packed_b_ = PackedMatrixB::pack(trans_b_, K, N, scaled.data(), b->dim(1));
    }
    has_packed_b_ = true;
    // A constant C that is the same for every row becomes the bias vector beta * C.
    const Tensor* c = ctx.constant(2);
    if (c && c->dtype() == DType::kF32 && c->rank() <= 2 && (c->rank() < 2 || c->dim(0) == 1)) {
      const int64_t cols = c->rank() == 0 ? 1 : c->shape().back();
      if (cols == 1 || cols == N) {
        bias_.resize(static_cast<size_t>(N));
        for (int64_t j = 0; j < N; ++j) bias_[static_cast<size_t>(j)] = beta_ * c->data<float>()[cols == 1 ? 0 : j];
        has_bias_ = true;
      }
    }
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return invalid_input(ctx.where() + ": needs inputs A and B");
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    EMBER_TRY(check_same_dtype(ctx, 0, 1));
    if (ctx.has_input(2)) EMBER_TRY(check_same_dtype(ctx, 0, 2));
    if (is_half_dtype(a.dtype())) return run_widened_to_f32(ctx, run_fresh<GemmKernel>);
    if (a.rank() != 2 || b.rank() != 2)
      return invalid_input(ctx.where() + ": A and B must be matrices, got " + shape_to_string(a.shape()) + " and " +
                           shape_to_string(b.shape()));
    const int64_t M = trans_a_ ? a.dim(1) : a.dim(0), K = trans_a_ ? a.dim(0) : a.dim(1);
    const int64_t N = trans_b_ ? b.dim(0) : b.dim(1);
    if ((trans_b_ ? b.dim(1) : b.dim(0)) != K)
      return invalid_input(ctx.where() + ": inner dimensions differ, A is " + shape_to_string(a.shape()) +
                           (trans_a_ ? " (transposed)" : "") + " and B is " + shape_to_string(b.shape()) +
                           (trans_b_ ? " (transposed)" : ""));
    const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    int64_t c_rows = 1, c_cols = 1;
    if (c) {
      if (c->rank() > 2) return invalid_input(ctx.where() + ": C must have rank <= 2, got " + shape_to_string(c->shape()));
      if (c->rank() == 2) c_rows = c->dim(0);
      if (c->rank() >= 1) c_cols = c->shape().back();
      if ((c_rows != 1 && c_rows != M) || (c_cols != 1 && c_cols != N))
        return invalid_input(ctx.where() + ": C of shape " + shape_to_string(c->shape()) +
                             " cannot be broadcast to [" + std::to_string(M) + ", " + std::to_string(N) + "]");
    }
    Tensor& y = ctx.allocate_output(0, a.dtype(), {M, N});
    if (y.numel() == 0) return Status::Ok();
    const bool use_c = c != nullptr && beta_ != 0.0f;

    return dispatch_matmul_dtype(ctx, a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* py = y.mutable_data<T>();
      const bool packed = std::is_same_v<T, float> && has_packed_b_ && !trans_a_ && K > 0;
      const bool fold_bias = packed && has_bias_;
      if (use_c && !fold_bias) {  // Y starts as beta * C broadcast, then accumulates A * B.
        const T* pc = c->data<T>();
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j)
            py[i * N + j] = typed_gemm_detail::scale<T>(beta_, pc[(c_rows == 1 ? 0 : i * c_cols) + (c_cols == 1 ? 0 : j)]);
      }
      if constexpr (std::is_same_v<T, float>) {
        if (packed) {
          sgemm_packed(M, a.data<float>(), K, packed_b_, use_c && fold_bias ? bias_.data() : nullptr, py, N,
                       use_c && !fold_bias);
          return;
        }
      }
      typed_gemm<T>(trans_a_, trans_b_, M, N, K, alpha_, a.data<T>(), a.dim(1), b.data<T>(), b.dim(1),
                    use_c ? 1.0 : 0.0, py, N);
    });
  }

 private:
  bool trans_a_ = false, trans_b_ = false;
  float alpha_ = 1.0f, beta_ = 1.0f;
  PackedMatrixB packed_b_;
  bool has_packed_b_ = false;
  std::vector<float> bias_;  // beta * C when C is a constant row vector (or scalar)
  bool has_bias_ = false;
};

}  // namespace

void register_matmul_kernels(KernelRegistry& registry) {
  // MatMul's semantics are unchanged since opset 1 (later versions only add types).
  registry.add("MatMul", "", 1, [] { return std::make_unique<MatMulKernel>(); });
  // Gemm-1/6 had a broadcast attribute; C always broadcasts here, which gives the same
  // result for every valid old model. 9 and 13 add types; 11 makes C optional (checked in
  // prepare against the node's opset).
  registry.add("Gemm", "", 1, [] { return std::make_unique<GemmKernel>(); });
}

std::unique_ptr<Kernel> make_matmul_kernel() { return std::make_unique<MatMulKernel>(); }

}  // namespace ember::runtime

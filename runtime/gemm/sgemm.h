// FP32 GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, blocked and packed, with
// run-time dispatch across AVX-512, AVX2+FMA and scalar (runtime/cpu.h).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace ember::runtime {

// What sgemm multiplies. kBf16 rounds op(A) and op(B) to bfloat16 (to nearest even) as it packs
// them and sums the products in f32 with AVX512-BF16 dot products, at up to twice the f32
// rate: for products whose use tolerates about 3 significant digits a term (the gradients of
// importance analysis). Where the ISA level in use has no BF16 (below avx512), and for
// problems too small to pack (M <= 8 without a packed B), it computes in f32.
enum class GemmInputs { kF32, kBf16 };
bool bf16_gemm_active();  // whether kBf16 rounds to bf16 at the ISA level in use

// op(A) is M x K, op(B) is K x N, C is M x N. lda/ldb/ldc are row strides in elements of
// the matrices as stored (before transposition). Multi-threaded with parallel_for.
// beta == 0 overwrites C without reading it (NaN in C does not propagate); K == 0 or
// alpha == 0 only scales C by beta.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmInputs inputs = GemmInputs::kF32);

// B packed once (at prepare time) into the panel layout of the active ISA level's kernels.
class PackedMatrixB {
 public:
  PackedMatrixB() = default;
  // B is K x N (trans_b = false) or N x K (trans_b = true), with row stride ldb. kBf16 packs
  // bf16 pairs when bf16_gemm_active(), and every product with it then rounds op(A) too.
  static PackedMatrixB pack(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb,
                            GemmInputs inputs = GemmInputs::kF32);
  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  const float* data() const { return data_.get(); }
  // The IsaLevel (runtime/cpu.h) whose kernels the layout is for (avxvnni packs as avx2).
  int isa_level() const { return isa_level_; }
  bool bf16() const { return bf16_; }  // panels of bf16 pairs (of consecutive k) rather than f32

 private:
  int64_t K_ = 0, N_ = 0;
  int isa_level_ = 0;
  bool bf16_ = false;
  std::shared_ptr<float> data_;
  friend struct PackedMatrixBAccess;
};

// C[M,N] = A[M,K] * packedB (+ bias[N] when not null) (+ C when accumulate).
// Correct at any ISA level: if the level in use was lowered below B.isa_level() since
// packing, B is repacked for it on every call (slow; pack again to avoid that).
void sgemm_packed(int64_t M, const float* A, int64_t lda, const PackedMatrixB& B, const float* bias, float* C,
                  int64_t ldc, bool accumulate = false);

// C[M,N] = alpha * op(A)[M,K] * B[0:K, 0:N]: a leading block of a packed B (K <= B.K(),
// N <= B.N()), as the fused attention uses one packed head for blocks of growing key extent.
// (A bf16 B with an odd K < B.K() splits a pair: computed from the unpacked values.)
void sgemm_packed_prefix(bool trans_a, int64_t M, int64_t K, int64_t N, float alpha, const float* A, int64_t lda,
                         const PackedMatrixB& B, float* C, int64_t ldc);

}  // namespace ember::runtime

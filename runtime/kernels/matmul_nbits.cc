// com.microsoft MatMulNBits (reference kernel): Y[.., N] = A[.., K] x dequant(B)^T (+ bias).
// B is uint8 [N, k_blocks, blob_size]: for each output column n, K weights quantized to
// `bits` (2, 4 or 8) bits in blocks of block_size along K, packed low bits first, so weight
// k of column n sits at bit k * bits of that column's bytes. Block j of column n has
//   scale  scales[n * k_blocks + j]                       ([N * k_blocks] or [N, k_blocks])
//   zero   zero_points packed like B, ceil(k_blocks * bits / 8) bytes per column (uint8),
//          or one float per block like scales; 2^(bits-1) (8 for 4 bits) when absent
// and w = (q - zero) * scale. Optional g_idx[k] gives the block of weight k (act-order).
// Few rows: four columns at a time are dequantized and dotted with each row of A; many rows:
// panels of 256 columns are dequantized and multiplied with sgemm.
#include <memory>

#include "runtime/gemm/sgemm.h"
#include "ir/nibbles.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/quant_params.h"
#include "runtime/kernels/quantized_families.h"
#include "runtime/parallel.h"

namespace ember::runtime {
namespace {

constexpr int64_t kColumnTile = 4;
constexpr int64_t kGemmMinRows = 8;       // from this many rows of A on, dequantize panels and use sgemm
constexpr int64_t kPanelColumns = 256;

struct NBitsAttrs {
  int64_t K = 0, N = 0, bits = 4, block_size = 0, k_blocks = 0, blob_size = 0;
};

// Scales, zero points and block indices as floats, ready for dequantization.
struct NBitsParams {
  std::vector<float> scales;       // N * k_blocks
  std::vector<float> zero_points;  // N * k_blocks
  std::vector<int32_t> block_of;   // K: block index of each weight (from g_idx), or empty
};

Status check_shape(const Tensor& t, const std::vector<Shape>& allowed, const std::string& where, const std::string& what) {
  for (const Shape& s : allowed)
    if (t.shape() == s) return Status::Ok();
  std::string list;
  for (const Shape& s : allowed) list += (list.empty() ? "" : " or ") + shape_to_string(s);
  return invalid_input(where + ": " + what + " must have shape " + list + ", got " + shape_to_string(t.shape()));
}

// Inputs 2..4 (scales, zero_points, g_idx) checked against the attributes.
Result<NBitsParams> read_params(const NBitsAttrs& a, const Tensor& scales, const Tensor* zp, const Tensor* g_idx,
                                const std::string& where) {
  NBitsParams p;
  EMBER_TRY(check_shape(scales, {{a.N * a.k_blocks}, {a.N, a.k_blocks}}, where, "scales"));
  EMBER_ASSIGN_OR_RETURN(p.scales, read_float_params(scales, where, "scales"));
  const float default_zero = static_cast<float>(1 << (a.bits - 1));
  p.zero_points.assign(p.scales.size(), default_zero);
  if (zp && zp->dtype() == DType::kU8) {
    const int64_t per_column = (a.k_blocks * a.bits + 7) / 8;
    EMBER_TRY(check_shape(*zp, {{a.N * per_column}, {a.N, per_column}}, where, "zero_points"));
    const uint8_t* z = zp->data<uint8_t>();
    const int64_t mask = (1 << a.bits) - 1;
    for (int64_t n = 0; n < a.N; ++n)
      for (int64_t j = 0; j < a.k_blocks; ++j) {
        const int64_t bit = j * a.bits;
        p.zero_points[size_t(n * a.k_blocks + j)] = static_cast<float>((z[n * per_column + bit / 8] >> (bit % 8)) & mask);
      }
  } else if (zp) {
    EMBER_TRY(check_shape(*zp, {{a.N * a.k_blocks}, {a.N, a.k_blocks}}, where, "zero_points"));
    EMBER_ASSIGN_OR_RETURN(p.zero_points, read_float_params(*zp, where, "zero_points"));
  }
  if (g_idx) {
    EMBER_TRY(check_shape(*g_idx, {{a.K}, {a.k_blocks * a.block_size}}, where, "g_idx"));
    if (g_idx->dtype() != DType::kI32) return invalid_input(where + ": g_idx must be i32");
    p.block_of.assign(g_idx->data<int32_t>(), g_idx->data<int32_t>() + a.K);
    for (int32_t b : p.block_of)
      if (b < 0 || b >= a.k_blocks)
        return invalid_input(where + ": g_idx value " + std::to_string(b) + " is outside [0, " + std::to_string(a.k_blocks) + ")");
  }
  return p;
}

// Dequantizes column n of B into w[0 .. K).
void dequantize_column(const NBitsAttrs& a, const NBitsParams& p, const uint8_t* b, int64_t n, float* w) {
  const uint8_t* column = b + n * a.k_blocks * a.blob_size;
  const float* scales = p.scales.data() + n * a.k_blocks;
  const float* zeros = p.zero_points.data() + n * a.k_blocks;
  const int bits = static_cast<int>(a.bits);
  const int mask = (1 << bits) - 1;
  if (!p.block_of.empty()) {
    for (int64_t k = 0; k < a.K; ++k) {
      const int64_t bit = k * bits, j = p.block_of[size_t(k)];
      w[k] = (static_cast<float>((column[bit / 8] >> (bit % 8)) & mask) - zeros[j]) * scales[j];
    }
    return;
  }
  for (int64_t j = 0; j < a.k_blocks; ++j) {
    const float scale = scales[j], zero = zeros[j];
    const int64_t k0 = j * a.block_size, k1 = std::min(a.K, k0 + a.block_size);
    if (bits == 4) {
      const uint8_t* bytes = column + j * a.blob_size;
      for (int64_t k = k0; k < k1; ++k) {
        w[k] = (static_cast<float>(nibbles::get(bytes, k - k0)) - zero) * scale;
      }
    } else {
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t bit = k * bits;
        w[k] = (static_cast<float>((column[bit / 8] >> (bit % 8)) & mask) - zero) * scale;
      }
    }
  }
}

void dot4_f32(const float* x, const float* w, int64_t K, float* out) {
  const float *w0 = w, *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t k = 0; k < K; ++k) {
    s0 += x[k] * w0[k];
    s1 += x[k] * w1[k];
    s2 += x[k] * w2[k];
    s3 += x[k] * w3[k];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

// Few rows: four columns at a time are dequantized and dotted with every row of A,
// multi-threaded over the columns.
void multiply_tiles(const NBitsAttrs& a, const NBitsParams& p, const uint8_t* b, const float* x, int64_t M,
                    const std::vector<float>& bias, Tensor& out) {
  const int64_t K = a.K, N = a.N;
  const int64_t tiles = (N + kColumnTile - 1) / kColumnTile;
  parallel_for(tiles, std::max<int64_t>(1, 65536 / std::max<int64_t>(kColumnTile * K * M, 1)), [&](int64_t t0, int64_t t1) {
    std::vector<float> w(static_cast<size_t>(kColumnTile * K));
    float dots[kColumnTile];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * kColumnTile, count = std::min(kColumnTile, N - n0);
      for (int64_t c = 0; c < kColumnTile; ++c)  // short tiles repeat their last column
        dequantize_column(a, p, b, n0 + std::min(c, count - 1), w.data() + c * K);
      for (int64_t m = 0; m < M; ++m) {
        dot4_f32(x + m * K, w.data(), K, dots);
        for (int64_t c = 0; c < count; ++c)
          store_float_as(out.dtype(), out.raw_mutable(), m * N + n0 + c, dots[c] + (bias.empty() ? 0.0f : bias[size_t(n0 + c)]));
      }
    }
  });
}

// Many rows: panels of columns are dequantized to floats (bounded memory) and multiplied
// with sgemm, which is blocked, vectorised and multi-threaded.
void multiply_panels(const NBitsAttrs& a, const NBitsParams& p, const uint8_t* b, const float* x, int64_t M,
                     const std::vector<float>& bias, Tensor& out) {
  const int64_t K = a.K, N = a.N;
  const int64_t panel = std::min(N, kPanelColumns);
  std::vector<float> w(static_cast<size_t>(panel * K));
  std::vector<float> f32_out;
  float* y = out.dtype() == DType::kF32 ? out.mutable_data<float>() : nullptr;
  if (!y) {
    f32_out.resize(static_cast<size_t>(M * N));
    y = f32_out.data();
  }
  for (int64_t n0 = 0; n0 < N; n0 += panel) {
    const int64_t cols = std::min(panel, N - n0);
    parallel_for(cols, 16, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) dequantize_column(a, p, b, n0 + c, w.data() + c * K);
    });
    sgemm(false, true, M, cols, K, 1.0f, x, K, w.data(), K, 0.0f, y + n0, N);
  }
  parallel_for(M, 64, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int64_t n = 0; n < N; ++n) {
        const float v = y[m * N + n] + (bias.empty() ? 0.0f : bias[size_t(n)]);
        store_float_as(out.dtype(), out.raw_mutable(), m * N + n, v);
      }
  });
}

class MatMulNBitsKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = "node '" + ctx.node.name + "' (" + ctx.node.op_type + ")";
    a_.K = ctx.node.attr_int("K", 0);
    a_.N = ctx.node.attr_int("N", 0);
    a_.bits = ctx.node.attr_int("bits", 4);
    a_.block_size = ctx.node.attr_int("block_size", 0);
    if (a_.K <= 0 || a_.N <= 0) return invalid_input(where + ": attributes K and N must be positive");
    if (a_.bits != 2 && a_.bits != 4 && a_.bits != 8)
      return unsupported(where + ": bits must be 2, 4 or 8, got " + std::to_string(a_.bits));
    if (a_.block_size < 16 || (a_.block_size & (a_.block_size - 1)) != 0)
      return invalid_input(where + ": block_size must be a power of 2 and >= 16, got " + std::to_string(a_.block_size));
    a_.k_blocks = (a_.K + a_.block_size - 1) / a_.block_size;
    a_.blob_size = a_.block_size * a_.bits / 8;
    const Tensor* scales = ctx.constant(2);
    const bool zp_given = ctx.node.has_input(3), g_given = ctx.node.has_input(4);
    const Tensor* zp = zp_given ? ctx.constant(3) : nullptr;
    const Tensor* g_idx = g_given ? ctx.constant(4) : nullptr;
    if (scales && (!zp_given || zp) && (!g_given || g_idx)) {
      EMBER_ASSIGN_OR_RETURN(params_, read_params(a_, *scales, zp, g_idx, where));
      prepared_ = true;
    }
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& A = ctx.input(0);
    const Tensor& B = ctx.input(1);
    if (A.dtype() != DType::kF32 && A.dtype() != DType::kF16) return unsupported_dtype(ctx, A.dtype());
    if (A.rank() < 1 || A.dim(A.rank() - 1) != a_.K)
      return invalid_input(where + ": A " + shape_to_string(A.shape()) + " must end in K = " + std::to_string(a_.K));
    if (B.dtype() != DType::kU8) return invalid_input(where + ": B must be u8, got " + std::string(dtype_name(B.dtype())));
    EMBER_TRY(check_shape(B, {{a_.N, a_.k_blocks, a_.blob_size}}, where, "B"));
    NBitsParams scratch;
    if (!prepared_) {
      EMBER_ASSIGN_OR_RETURN(scratch, read_params(a_, ctx.input(2), ctx.has_input(3) ? &ctx.input(3) : nullptr,
                                                  ctx.has_input(4) ? &ctx.input(4) : nullptr, where));
    }
    const NBitsParams& p = prepared_ ? params_ : scratch;
    std::vector<float> bias;
    if (ctx.has_input(5)) {
      EMBER_TRY(check_shape(ctx.input(5), {{a_.N}}, where, "bias"));
      EMBER_ASSIGN_OR_RETURN(bias, read_float_params(ctx.input(5), where, "bias"));
    }
    std::vector<float> a_storage;
    const float* x = A.data<float>();
    if (A.dtype() != DType::kF32) {
      EMBER_ASSIGN_OR_RETURN(a_storage, A.to_floats());
      x = a_storage.data();
    }
    Shape out_shape = A.shape();
    out_shape.back() = a_.N;
    Tensor& out = ctx.allocate_output(0, A.dtype(), out_shape);
    const int64_t M = A.numel() / a_.K;
    const uint8_t* b = B.data<uint8_t>();
    if (M >= kGemmMinRows) {
      multiply_panels(a_, p, b, x, M, bias, out);
    } else {
      multiply_tiles(a_, p, b, x, M, bias, out);
    }
    return Status::Ok();
  }

 private:
  NBitsAttrs a_;
  bool prepared_ = false;
  NBitsParams params_;
};

}  // namespace

void register_matmul_nbits_kernels(KernelRegistry& registry) {
  registry.add("MatMulNBits", "com.microsoft", 1, [] { return std::make_unique<MatMulNBitsKernel>(); });
}

}  // namespace ember::runtime

// ember.fused Int4MatMul (fused_ops.h): MatMulNBits (4 bits) and DequantizeLinear(int4
// blocked) -> MatMul / Gemm, on weights repacked once into the interleaved block layout of
// runtime/int4, with activations quantized to int8 per block of 32 on each run.
#include <algorithm>
#include <memory>

#include "runtime/fused/fused_kernels.h"
#include "ir/nibbles.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/fused/fused_util.h"
#include "runtime/int4/int4_format.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/pack_store.h"

namespace ember::runtime::fused {
namespace {

using int4::Int4Source;

// MatMulNBits inputs 1..3: B uint8 [N, blocks, block/2], scales [N * blocks] or [N, blocks],
// zero_points uint8 [N * ceil(blocks / 2)] (two blocks per byte, low nibble first).
Result<Int4Source> source_from_nbits(const PrepareContext& ctx) {
  const std::string where = where_of(ctx.node);
  Int4Source s;
  s.K = ctx.node.attr_int("K", 0);
  s.N = ctx.node.attr_int("N", 0);
  s.block_size = ctx.node.attr_int("block_size", 0);
  if (ctx.node.attr_int("bits", 4) != 4) return unsupported(where + ": only 4-bit weights are supported");
  if (s.K <= 0 || s.N <= 0 || s.block_size <= 0 || s.block_size % int4::kBlock != 0)
    return invalid_input(where + ": K and N must be positive and block_size a multiple of 32");
  const int64_t blocks = s.source_blocks(), blob = s.block_size / 2;
  const Tensor* b = ctx.constant(1);
  const Tensor* scales = ctx.constant(2);
  if (!b || !scales || b->dtype() != DType::kU8 || b->numel() != s.N * blocks * blob)
    return invalid_input(where + ": B must be a constant uint8 [N, blocks, block/2] and scales a constant");
  EMBER_ASSIGN_OR_RETURN(s.scales, read_float_params(*scales, where, "scales"));
  if (static_cast<int64_t>(s.scales.size()) != s.N * blocks) return invalid_input(where + ": scales must have N * blocks values");
  const uint8_t* bytes = b->data<uint8_t>();
  s.codes.resize(static_cast<size_t>(s.N * s.K));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k) s.codes[static_cast<size_t>(n * s.K + k)] = nibbles::get(bytes + n * blocks * blob, k);
  if (ctx.node.has_input(3)) {
    const Tensor* zp = ctx.constant(3);
    const int64_t per_column = (blocks + 1) / 2;
    if (!zp || zp->dtype() != DType::kU8 || zp->numel() != s.N * per_column)
      return invalid_input(where + ": zero_points must be a constant uint8 with two blocks per byte");
    s.zeros.resize(static_cast<size_t>(s.N * blocks));
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t j = 0; j < blocks; ++j)
        s.zeros[static_cast<size_t>(n * blocks + j)] = nibbles::get(zp->data<uint8_t>() + n * per_column, j);
  }
  return s;
}

// DequantizeLinear's operands: W int4 / uint4 [K, N] (kn) or [N, K] (nk), blocked along K,
// scale [blocks, N] / [N, blocks], zero point like the scale (default 0).
Result<Int4Source> source_from_qdq(const PrepareContext& ctx, bool nk) {
  const std::string where = where_of(ctx.node);
  const Tensor* w = ctx.constant(1);
  const Tensor* scale = ctx.constant(2);
  if (!w || !scale || (w->dtype() != DType::kI4 && w->dtype() != DType::kU4) || w->rank() != 2)
    return invalid_input(where + ": the weight must be a constant 2-D int4 / uint4 tensor with a constant scale");
  Int4Source s;
  s.K = nk ? w->dim(1) : w->dim(0);
  s.N = nk ? w->dim(0) : w->dim(1);
  s.block_size = ctx.node.attr_int("block_size", 0);
  if (s.block_size <= 0 || s.block_size % int4::kBlock != 0) return invalid_input(where + ": block_size must be a multiple of 32");
  const int64_t blocks = s.source_blocks();
  const Shape want = nk ? Shape{s.N, blocks} : Shape{blocks, s.N};
  if (scale->shape() != want) return invalid_input(where + ": scale must have shape " + shape_to_string(want));
  EMBER_ASSIGN_OR_RETURN(std::vector<float> scales, read_float_params(*scale, where, "scale"));
  std::vector<int32_t> zeros;
  if (ctx.node.has_input(3)) {
    const Tensor* zp = ctx.constant(3);
    if (!zp || zp->dtype() != w->dtype() || zp->shape() != want)
      return invalid_input(where + ": the zero point must be a constant of the weight's type and the scale's shape");
    EMBER_ASSIGN_OR_RETURN(zeros, read_int_params(*zp, where, "zero point"));
  }
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  // Signed codes move to [0, 15] by +8 together with their zero points.
  const int32_t offset = w->dtype() == DType::kI4 ? 8 : 0;
  s.codes.resize(static_cast<size_t>(s.N * s.K));
  s.scales.resize(static_cast<size_t>(s.N * blocks));
  s.zeros.resize(static_cast<size_t>(s.N * blocks));
  // The raw nibble plus 8 for signed codes is q + 8 (two's complement), in 64 x 64 tiles so
  // that a [K, N] source is read along its rows while the codes are written along K.
  const uint8_t* nibbles = static_cast<const uint8_t*>(w->raw());
  const uint8_t flip = w->dtype() == DType::kI4 ? 8 : 0;
  static_assert(QuantStorage<Int4Tag>::kMin == -8);
  constexpr int64_t kTile = 64;
  for (int64_t n0 = 0; n0 < s.N; n0 += kTile)
    for (int64_t k0 = 0; k0 < s.K; k0 += kTile)
      for (int64_t n = n0; n < std::min(s.N, n0 + kTile); ++n)
        for (int64_t k = k0; k < std::min(s.K, k0 + kTile); ++k) {
          const int64_t e = nk ? n * s.K + k : k * s.N + n;
          const uint8_t raw = static_cast<uint8_t>((nibbles[e >> 1] >> ((e & 1) * 4)) & 0xf);
          s.codes[static_cast<size_t>(n * s.K + k)] = static_cast<uint8_t>(raw ^ flip);
        }
  for (int64_t n = 0; n < s.N; ++n) {
    for (int64_t j = 0; j < blocks; ++j) {
      const size_t p = static_cast<size_t>(nk ? n * blocks + j : j * s.N + n);
      s.scales[static_cast<size_t>(n * blocks + j)] = scales[p] * alpha;
      s.zeros[static_cast<size_t>(n * blocks + j)] = static_cast<uint8_t>((zeros.empty() ? 0 : zeros[p]) + offset);
    }
  }
  return s;
}

class Int4MatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = where_of(ctx.node);
    const std::string layout = ctx.node.attr_string("layout", "");
    if (layout != "nbits" && layout != "kn" && layout != "nk") return invalid_input(where + ": unknown layout '" + layout + "'");
    if (!reuse_packed(ctx, layout)) {
      Result<Int4Source> source = layout == "nbits" ? source_from_nbits(ctx)
                                  : layout == "kn"  ? source_from_qdq(ctx, false)
                                                    : source_from_qdq(ctx, true);
      if (!source.ok()) return source.status();
      weights_ = int4::Int4Weights::pack(*source);
      if (ctx.packs) ctx.packs->record(pack_key(ctx), weights_.image_parts());
    }
    const size_t bias_index = layout == "nbits" ? 5 : 4;
    if (ctx.node.has_input(bias_index)) {
      const Tensor* bias = ctx.constant(bias_index);
      if (!bias) return invalid_input(where + ": the bias must be a constant");
      EMBER_ASSIGN_OR_RETURN(bias_, per_column_floats(*bias, weights_.N(), where, "bias"));
    }
    return Status::Ok();
  }

  static std::string pack_key(const PrepareContext& ctx) { return "int4:" + ctx.node.outputs.at(0); }

  // The weights packed by an earlier load, when the store has them for this node's K x N:
  // read from the shapes and attributes alone, so the source weights are not touched.
  bool reuse_packed(const PrepareContext& ctx, const std::string& layout) {
    if (!ctx.packs) return false;
    size_t bytes = 0;
    ArenaPtr<uint8_t> image = ctx.packs->find(pack_key(ctx), &bytes);
    if (!image) return false;
    int64_t K = ctx.node.attr_int("K", 0), N = ctx.node.attr_int("N", 0);
    if (layout != "nbits") {
      const Tensor* w = ctx.constant(1);
      if (!w || w->rank() != 2) return false;
      K = layout == "nk" ? w->dim(1) : w->dim(0);
      N = layout == "nk" ? w->dim(0) : w->dim(1);
    }
    auto packed = int4::Int4Weights::from_image(std::move(image), bytes, K, N);
    if (!packed.ok()) return false;
    weights_ = std::move(*packed);
    ctx.packs->count_hit();
    return true;
  }

  Status run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    EMBER_ASSIGN_OR_RETURN(RowsShape s, rows_shape(x, weights_.K(), weights_.N(), ctx.where()));
    float* y = ctx.allocate_output(0, DType::kF32, s.out).mutable_data<float>();
    activations_.quantize(x.data<float>(), s.M, weights_.K(), weights_.scale_multiplier());
    int4::int4_gemm(activations_, weights_, bias_.empty() ? nullptr : bias_.data(), y, weights_.N());
    return Status::Ok();
  }

 private:
  int4::Int4Weights weights_;
  std::vector<float> bias_;
  int4::Int4Activations activations_;
};

}  // namespace

void register_int4_fused_kernels(KernelRegistry& registry) {
  registry.add(kInt4MatMul, kDomain, 1, [] { return std::make_unique<Int4MatMulKernel>(); });
}

}  // namespace ember::runtime::fused

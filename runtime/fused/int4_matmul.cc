// ember.fused Int4MatMul and Int4MatMulGroup (fused_ops.h): MatMulNBits (4 bits) and
// DequantizeLinear(int4 blocked) -> MatMul / Gemm, on weights repacked once into the
// interleaved block layout of runtime/int4, with activations quantized to int8 per block of 32
// on each run (once for all the products of a group).
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

// DequantizeLinear's operands from input `first` on: W int4 / uint4 [K, N] (kn) or [N, K]
// (nk), blocked along K, scale [blocks, N] / [N, blocks], zero point like the scale (default 0).
Result<Int4Source> source_from_qdq(const PrepareContext& ctx, size_t first, bool nk) {
  const std::string where = where_of(ctx.node);
  const Tensor* w = ctx.constant(first);
  const Tensor* scale = ctx.constant(first + 1);
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
  if (ctx.node.has_input(first + 2)) {
    const Tensor* zp = ctx.constant(first + 2);
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

// One product's packed weights and bias, from the node's inputs `first` (W or B) on: W, scales,
// zero points, then the bias at first + 3 (kn / nk) or first + 4 (nbits, after g_idx).
struct Int4Product {
  Status prepare(const PrepareContext& ctx, size_t first, const std::string& layout, const std::string& output) {
    const std::string where = where_of(ctx.node);
    if (layout != "nbits" && layout != "kn" && layout != "nk") return invalid_input(where + ": unknown layout '" + layout + "'");
    if (!reuse_packed(ctx, first, layout, output)) {
      Result<Int4Source> source = layout == "nbits" ? source_from_nbits(ctx)
                                  : layout == "kn"  ? source_from_qdq(ctx, first, false)
                                                    : source_from_qdq(ctx, first, true);
      if (!source.ok()) return source.status();
      weights = int4::Int4Weights::pack(*source);
      if (ctx.packs) ctx.packs->record(pack_key(output), weights.image_parts());
    }
    const size_t bias_index = first + (layout == "nbits" ? 4 : 3);
    if (ctx.node.has_input(bias_index)) {
      const Tensor* b = ctx.constant(bias_index);
      if (!b) return invalid_input(where + ": the bias must be a constant");
      EMBER_ASSIGN_OR_RETURN(bias, per_column_floats(*b, weights.N(), where, "bias"));
    }
    return Status::Ok();
  }

  // Keyed by the output's name, so a product packed alone and in a group share the cache entry.
  static std::string pack_key(const std::string& output) { return "int4:" + output; }

  // The weights packed by an earlier load, when the store has them for this product's K x N:
  // read from the shapes and attributes alone, so the source weights are not touched.
  bool reuse_packed(const PrepareContext& ctx, size_t first, const std::string& layout, const std::string& output) {
    if (!ctx.packs) return false;
    size_t bytes = 0;
    ArenaPtr<uint8_t> image = ctx.packs->find(pack_key(output), &bytes);
    if (!image) return false;
    int64_t K = ctx.node.attr_int("K", 0), N = ctx.node.attr_int("N", 0);
    if (layout != "nbits") {
      const Tensor* w = ctx.constant(first);
      if (!w || w->rank() != 2) return false;
      K = layout == "nk" ? w->dim(1) : w->dim(0);
      N = layout == "nk" ? w->dim(0) : w->dim(1);
    }
    auto packed = int4::Int4Weights::from_image(std::move(image), bytes, K, N);
    if (!packed.ok()) return false;
    weights = std::move(*packed);
    ctx.packs->count_hit();
    return true;
  }

  void run(const int4::Int4Activations& x, float* y) const {
    int4::int4_gemm(x, weights, bias.empty() ? nullptr : bias.data(), y, weights.N());
  }

  int4::Int4Weights weights;
  std::vector<float> bias;
};

class Int4MatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    return product_.prepare(ctx, 1, ctx.node.attr_string("layout", ""), ctx.node.outputs.at(0));
  }

  Status run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    const int4::Int4Weights& w = product_.weights;
    EMBER_ASSIGN_OR_RETURN(RowsShape s, rows_shape(x, w.K(), w.N(), ctx.where()));
    float* y = ctx.allocate_output(0, DType::kF32, s.out).mutable_data<float>();
    activations_.quantize(x.data<float>(), s.M, w.K(), w.scale_multiplier());
    product_.run(activations_, y);
    return Status::Ok();
  }

 private:
  Int4Product product_;
  int4::Int4Activations activations_;
};

// Int4MatMulGroup: the kn / nk Int4MatMuls of one X (attention's Q, K and V projections, an
// MLP's gate and up), whose activations are quantized once per distinct scale multiplier of
// their weights (the integers do not depend on it; one quantization when all agree, as RTN's
// do), so each output is exactly its Int4MatMul's.
class Int4MatMulGroupKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = where_of(ctx.node);
    const std::string layout = ctx.node.attr_string("layout", "");
    const size_t outputs = ctx.node.outputs.size();
    if (layout == "nbits") return invalid_input(where + ": a group takes layout kn or nk");
    if (outputs < 1 || ctx.node.inputs.size() > 1 + 4 * outputs)
      return invalid_input(where + ": needs X and four inputs (W, scale, zero point, bias) per output");
    products_.resize(outputs);
    uses_.assign(outputs, 0);
    std::vector<float> multipliers;
    for (size_t g = 0; g < outputs; ++g) {
      EMBER_TRY(products_[g].prepare(ctx, 1 + 4 * g, layout, ctx.node.outputs[g]));
      if (products_[g].weights.K() != products_[0].weights.K()) return invalid_input(where + ": every weight must have the same K");
      const float m = products_[g].weights.scale_multiplier();
      size_t u = 0;
      while (u < multipliers.size() && multipliers[u] != m) ++u;
      if (u == multipliers.size()) multipliers.push_back(m);
      uses_[g] = u;
    }
    activations_.resize(multipliers.size());
    multipliers_ = std::move(multipliers);
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    const int64_t K = products_[0].weights.K();
    EMBER_ASSIGN_OR_RETURN(RowsShape s, rows_shape(x, K, products_[0].weights.N(), ctx.where()));
    for (size_t u = 0; u < activations_.size(); ++u) activations_[u].quantize(x.data<float>(), s.M, K, multipliers_[u]);
    for (size_t g = 0; g < products_.size(); ++g) {
      s.out.back() = products_[g].weights.N();
      products_[g].run(activations_[uses_[g]], ctx.allocate_output(g, DType::kF32, s.out).mutable_data<float>());
    }
    return Status::Ok();
  }

 private:
  std::vector<Int4Product> products_;
  std::vector<size_t> uses_;  // per product: its activations' index
  std::vector<float> multipliers_;
  std::vector<int4::Int4Activations> activations_;
};

}  // namespace

void register_int4_fused_kernels(KernelRegistry& registry) {
  registry.add(kInt4MatMul, kDomain, 1, [] { return std::make_unique<Int4MatMulKernel>(); });
  registry.add(kInt4MatMulGroup, kDomain, 1, [] { return std::make_unique<Int4MatMulGroupKernel>(); });
}

}  // namespace ember::runtime::fused

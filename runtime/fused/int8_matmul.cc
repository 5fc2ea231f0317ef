// ember.fused Int8MatMul, Int8MatMulGroup and MatMulIntegerPacked (fused_ops.h): u8s8 GEMM on
// weights packed once in prepare (runtime/qgemm), activations quantized on each run into a
// buffer the kernel keeps, so a decode step allocates nothing but its output.
#include <algorithm>
#include <memory>
#include <vector>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/fused/fused_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/pack_store.h"
#include "runtime/qgemm/qgemm.h"
#include "runtime/qgemm/quantize_act.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime::fused {
namespace {

bool is_byte_dtype(DType d) { return d == DType::kI8 || d == DType::kU8; }

// A constant 2-D int8 / uint8 weight packed for the u8s8 kernels.
Result<qgemm::PackedB> pack_weight(const PrepareContext& ctx, size_t index, size_t zp_index, bool trans_b, int64_t& K,
                                   int64_t& N) {
  const std::string where = where_of(ctx.node);
  const Tensor* w = ctx.constant(index);
  if (!w) return invalid_input(where + ": the weight input must be a constant");
  if (!is_byte_dtype(w->dtype()) || w->rank() != 2)
    return invalid_input(where + ": the weight must be a 2-D int8 or uint8 tensor, got " + std::string(dtype_name(w->dtype())) +
                         " " + shape_to_string(w->shape()));
  K = trans_b ? w->dim(1) : w->dim(0);
  N = trans_b ? w->dim(0) : w->dim(1);
  // Packed by an earlier load (pack_store.h): the weight's bytes are then never read.
  const std::string key = "int8:" + ctx.node.outputs.at(0) + ":" + std::to_string(index);
  if (ctx.packs) {
    size_t bytes = 0;
    if (ArenaPtr<uint8_t> image = ctx.packs->find(key, &bytes)) {
      auto packed = qgemm::PackedB::from_image(std::move(image), bytes, K, N);
      if (packed.ok()) {
        ctx.packs->count_hit();
        return packed;
      }
    }
  }
  std::vector<int32_t> zero_points;
  if (ctx.node.has_input(zp_index)) {
    const Tensor* zp = ctx.constant(zp_index);
    if (!zp) return invalid_input(where + ": the weight zero point must be a constant");
    if (zp->dtype() != w->dtype()) return invalid_input(where + ": the weight zero point must have the weight's type");
    EMBER_ASSIGN_OR_RETURN(zero_points, per_column_ints(*zp, N, where, "weight zero point"));
  }
  qgemm::PackedB packed = qgemm::PackedB::pack(w->raw(), w->dtype() == DType::kU8, trans_b, K, N, w->dim(1),
                                               zero_points.empty() ? nullptr : zero_points.data());
  if (ctx.packs) ctx.packs->record(key, packed.image_parts());
  return packed;
}

// One packed product of an Int8MatMul: the weight, its per-column scales (alpha folded in),
// the bias and the epilogue's activation; inputs W, w_scale, w_zero_point, bias start at `first`.
struct Product {
  int64_t K = 0, N = 0;
  qgemm::PackedB packed;
  std::vector<float> w_scales, bias;
  bool relu = false;
  void (*activation)(const float*, float*, int64_t) = nullptr;

  Status prepare(const PrepareContext& ctx, size_t first, bool trans_b, float alpha) {
    const std::string where = where_of(ctx.node);
    EMBER_ASSIGN_OR_RETURN(packed, pack_weight(ctx, first, first + 2, trans_b, K, N));
    const Tensor* w_scale = ctx.constant(first + 1);
    if (!w_scale) return invalid_input(where + ": the weight scale must be a constant");
    EMBER_ASSIGN_OR_RETURN(w_scales, per_column_floats(*w_scale, N, where, "weight scale"));
    if (alpha != 1.0f)
      for (float& s : w_scales) s *= alpha;
    if (ctx.node.has_input(first + 3)) {
      const Tensor* b = ctx.constant(first + 3);
      if (!b) return invalid_input(where + ": the bias must be a constant");
      EMBER_ASSIGN_OR_RETURN(bias, per_column_floats(*b, N, where, "bias"));
    }
    return Status::Ok();
  }

  // Y = epilogue(Xq x W) for the quantized rows of X; or, with `parts`, Y's columns in blocks
  // of part_cols, each in its own matrix (qgemm::QGemmOutput::f32_parts).
  void run(const qgemm::QuantizedRows& rows, float* y, float* const* parts = nullptr, int64_t part_cols = 0) const {
    qgemm::QGemmOutput out;
    out.f32 = parts ? nullptr : y;
    out.f32_parts = parts;
    out.part_cols = part_cols;
    out.ldc = N;
    out.b_scales = w_scales.data();
    out.bias = bias.empty() ? nullptr : bias.data();
    out.relu = relu;
    out.activation = activation;
    qgemm::gemm_u8s8(rows.view(), packed, out);
  }
};

// How X is quantized on each run (attribute act, and for static the inputs x_scale and
// x_zero_point at `static_first`).
struct ActivationQuantizer {
  std::string act;
  bool x_signed = false;
  float x_scale = 1.0f, min_scale = 0.0f;
  int32_t x_zero_point = 0;

  Status prepare(const PrepareContext& ctx, size_t static_first) {
    const std::string where = where_of(ctx.node);
    act = ctx.node.attr_string("act", "tensor");
    if (act == "static") {
      const Tensor* scale = ctx.constant(static_first);
      const bool has_zp = ctx.node.has_input(static_first + 1);
      const Tensor* zp = has_zp ? ctx.constant(static_first + 1) : nullptr;
      if (!scale || scale->numel() != 1 || (has_zp && (!zp || zp->numel() != 1 || !is_byte_dtype(zp->dtype()))))
        return invalid_input(where + ": act=static needs constant scalar x_scale and uint8/int8 x_zero_point");
      EMBER_ASSIGN_OR_RETURN(std::vector<float> sc, read_float_params(*scale, where, "x_scale"));
      x_scale = sc[0];
      if (zp) {
        EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> z, read_int_params(*zp, where, "x_zero_point"));
        x_zero_point = z[0];
        x_signed = zp->dtype() == DType::kI8;
      }
    } else if (act == "row_symmetric") {
      min_scale = ctx.node.attr_float("min_scale", 0.0f);
      if (!(min_scale > 0.0f)) return invalid_input(where + ": act=row_symmetric needs a positive min_scale");
    } else if (act != "tensor" && act != "row") {
      return invalid_input(where + ": act must be tensor, row, row_symmetric or static, got '" + act + "'");
    }
    return Status::Ok();
  }

  void quantize(const float* x, int64_t M, int64_t K, bool row_sums, qgemm::QuantizedRows& rows) const {
    if (act == "tensor")
      rows.quantize_per_tensor(x, M, K, row_sums);
    else if (act == "row")
      rows.quantize_per_row(x, M, K, row_sums);
    else if (act == "row_symmetric")
      rows.quantize_per_row_symmetric(x, M, K, min_scale, row_sums);
    else
      rows.quantize_static(x, M, K, x_scale, x_zero_point, x_signed, row_sums);
  }
};

// Inputs: X, W, w_scale, w_zero_point?, bias?, x_scale?, x_zero_point? (fused_ops.h).
class Int8MatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = where_of(ctx.node);
    EMBER_TRY(product_.prepare(ctx, 1, ctx.node.attr_int("trans_b", 0) != 0, ctx.node.attr_float("alpha", 1.0f)));
    product_.relu = ctx.node.attr_int("relu", 0) != 0;
    const std::string activation = ctx.node.attr_string("activation", "");
    if (activation == "gelu")
      product_.activation = vmath::gelu_erf;
    else if (activation == "gelu_tanh")
      product_.activation = vmath::gelu_tanh;
    else if (!activation.empty())
      return invalid_input(where + ": activation must be gelu or gelu_tanh, got '" + activation + "'");
    parts_ = static_cast<int64_t>(ctx.node.outputs.size());
    if (parts_ > 1 && (product_.N % parts_ != 0 || product_.activation))
      return invalid_input(where + ": " + std::to_string(parts_) + " outputs need N divisible by them and no activation");
    return quantizer_.prepare(ctx, 5);
  }

  Status run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    EMBER_ASSIGN_OR_RETURN(RowsShape s, rows_shape(x, product_.K, product_.N, ctx.where()));
    quantizer_.quantize(x.data<float>(), s.M, product_.K, product_.packed.zero_points() != nullptr, rows_);
    if (parts_ == 1) {
      product_.run(rows_, ctx.allocate_output(0, DType::kF32, s.out).mutable_data<float>());
      return Status::Ok();
    }
    // Several outputs: equal blocks of Y's columns (rewrite_column_split.h), written in place
    // when no register tile straddles two of them, else through a copy.
    const int64_t cols = product_.N / parts_;
    s.out.back() = cols;
    std::vector<float*> parts;
    for (int64_t p = 0; p < parts_; ++p) parts.push_back(ctx.allocate_output(size_t(p), DType::kF32, s.out).mutable_data<float>());
    if (cols % qgemm::tile_columns() == 0) {
      product_.run(rows_, nullptr, parts.data(), cols);
      return Status::Ok();
    }
    std::vector<float> whole(size_t(s.M * product_.N));
    product_.run(rows_, whole.data());
    for (int64_t r = 0; r < s.M; ++r)
      for (int64_t p = 0; p < parts_; ++p)
        std::copy_n(whole.data() + r * product_.N + p * cols, cols, parts[size_t(p)] + r * cols);
    return Status::Ok();
  }

 private:
  int64_t parts_ = 1;
  Product product_;
  ActivationQuantizer quantizer_;
  qgemm::QuantizedRows rows_;
};

// Int8MatMulGroup: several products of one X (attention's Q, K and V projections), which is
// quantized once. Inputs: X, then W, w_scale, w_zero_point?, bias? per output.
class Int8MatMulGroupKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = where_of(ctx.node);
    const size_t outputs = ctx.node.outputs.size();
    if (outputs < 1 || ctx.node.inputs.size() > 1 + 4 * outputs)
      return invalid_input(where + ": needs X and four inputs (W, w_scale, w_zero_point, bias) per output");
    products_.resize(outputs);
    for (size_t g = 0; g < outputs; ++g) {
      EMBER_TRY(products_[g].prepare(ctx, 1 + 4 * g, false, 1.0f));
      if (products_[g].K != products_[0].K) return invalid_input(where + ": every weight must have the same K");
      row_sums_ |= products_[g].packed.zero_points() != nullptr;
    }
    EMBER_TRY(quantizer_.prepare(ctx, 0));
    if (quantizer_.act == "static") return invalid_input(where + ": act=static is not supported in a group");
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    const int64_t K = products_[0].K;
    EMBER_ASSIGN_OR_RETURN(RowsShape s, rows_shape(x, K, products_[0].N, ctx.where()));
    quantizer_.quantize(x.data<float>(), s.M, K, row_sums_, rows_);
    for (size_t g = 0; g < products_.size(); ++g) {
      s.out.back() = products_[g].N;
      products_[g].run(rows_, ctx.allocate_output(g, DType::kF32, s.out).mutable_data<float>());
    }
    return Status::Ok();
  }

 private:
  std::vector<Product> products_;
  ActivationQuantizer quantizer_;
  bool row_sums_ = false;
  qgemm::QuantizedRows rows_;
};

class MatMulIntegerPackedKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    EMBER_ASSIGN_OR_RETURN(packed_, pack_weight(ctx, 1, 3, false, K_, N_));
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& a = ctx.input(0);
    if (!is_byte_dtype(a.dtype())) return unsupported_dtype(ctx, a.dtype());
    EMBER_ASSIGN_OR_RETURN(RowsShape s, rows_shape(a, K_, N_, where));
    int32_t a_zp = 0;
    if (ctx.has_input(2)) {
      const Tensor& zp = ctx.input(2);
      if (zp.dtype() != a.dtype() || zp.numel() != 1)
        return invalid_input(where + ": the A zero point must be a scalar of A's type");
      a_zp = a.dtype() == DType::kU8 ? int32_t{zp.data<uint8_t>()[0]} : int32_t{zp.data<int8_t>()[0]};
    }
    zero_points_.assign(static_cast<size_t>(s.M), a_zp);
    rows_.copy(a.raw(), a.dtype() == DType::kI8, s.M, K_, zero_points_.data(), packed_.zero_points() != nullptr);
    qgemm::QGemmOutput out;
    out.i32 = ctx.allocate_output(0, DType::kI32, s.out).mutable_data<int32_t>();
    out.ldc = N_;
    qgemm::gemm_u8s8(rows_.view(), packed_, out);
    return Status::Ok();
  }

 private:
  int64_t K_ = 0, N_ = 0;
  qgemm::PackedB packed_;
  std::vector<int32_t> zero_points_;
  qgemm::QuantizedRows rows_;
};

}  // namespace

void register_int8_fused_kernels(KernelRegistry& registry) {
  registry.add(kInt8MatMul, kDomain, 1, [] { return std::make_unique<Int8MatMulKernel>(); });
  registry.add(kInt8MatMulGroup, kDomain, 1, [] { return std::make_unique<Int8MatMulGroupKernel>(); });
  registry.add(kMatMulIntegerPacked, kDomain, 1, [] { return std::make_unique<MatMulIntegerPackedKernel>(); });
}

}  // namespace ember::runtime::fused

// ember.fused Int8MatMul and MatMulIntegerPacked (fused_ops.h): u8s8 GEMM on weights packed
// once in prepare (runtime/qgemm), activations quantized on each run into a buffer the kernel
// keeps, so a decode step allocates nothing but its output.
#include <memory>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/fused/fused_util.h"
#include "runtime/kernels/kernel_util.h"
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
  std::vector<int32_t> zero_points;
  if (ctx.node.has_input(zp_index)) {
    const Tensor* zp = ctx.constant(zp_index);
    if (!zp) return invalid_input(where + ": the weight zero point must be a constant");
    if (zp->dtype() != w->dtype()) return invalid_input(where + ": the weight zero point must have the weight's type");
    EMBER_ASSIGN_OR_RETURN(zero_points, per_column_ints(*zp, N, where, "weight zero point"));
  }
  return qgemm::PackedB::pack(w->raw(), w->dtype() == DType::kU8, trans_b, K, N, w->dim(1),
                              zero_points.empty() ? nullptr : zero_points.data());
}

class Int8MatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = where_of(ctx.node);
    const bool trans_b = ctx.node.attr_int("trans_b", 0) != 0;
    EMBER_ASSIGN_OR_RETURN(packed_, pack_weight(ctx, 1, 3, trans_b, K_, N_));
    const Tensor* w_scale = ctx.constant(2);
    if (!w_scale) return invalid_input(where + ": the weight scale must be a constant");
    EMBER_ASSIGN_OR_RETURN(w_scales_, per_column_floats(*w_scale, N_, where, "weight scale"));
    const float alpha = ctx.node.attr_float("alpha", 1.0f);
    if (alpha != 1.0f)
      for (float& s : w_scales_) s *= alpha;
    if (ctx.node.has_input(4)) {
      const Tensor* bias = ctx.constant(4);
      if (!bias) return invalid_input(where + ": the bias must be a constant");
      EMBER_ASSIGN_OR_RETURN(bias_, per_column_floats(*bias, N_, where, "bias"));
    }
    act_ = ctx.node.attr_string("act", "tensor");
    relu_ = ctx.node.attr_int("relu", 0) != 0;
    const std::string activation = ctx.node.attr_string("activation", "");
    if (activation == "gelu")
      activation_ = vmath::gelu_erf;
    else if (activation == "gelu_tanh")
      activation_ = vmath::gelu_tanh;
    else if (!activation.empty())
      return invalid_input(where + ": activation must be gelu or gelu_tanh, got '" + activation + "'");
    if (act_ == "static") {
      const Tensor* scale = ctx.constant(5);
      const Tensor* zp = ctx.node.has_input(6) ? ctx.constant(6) : nullptr;
      if (!scale || scale->numel() != 1 || (ctx.node.has_input(6) && (!zp || zp->numel() != 1 || !is_byte_dtype(zp->dtype()))))
        return invalid_input(where + ": act=static needs constant scalar x_scale and uint8/int8 x_zero_point");
      EMBER_ASSIGN_OR_RETURN(std::vector<float> s, read_float_params(*scale, where, "x_scale"));
      x_scale_ = s[0];
      if (zp) {
        EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> z, read_int_params(*zp, where, "x_zero_point"));
        x_zero_point_ = z[0];
        x_signed_ = zp->dtype() == DType::kI8;
      }
    } else if (act_ == "row_symmetric") {
      min_scale_ = ctx.node.attr_float("min_scale", 0.0f);
      if (!(min_scale_ > 0.0f)) return invalid_input(where + ": act=row_symmetric needs a positive min_scale");
    } else if (act_ != "tensor" && act_ != "row") {
      return invalid_input(where + ": act must be tensor, row, row_symmetric or static, got '" + act_ + "'");
    }
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
    EMBER_ASSIGN_OR_RETURN(RowsShape s, rows_shape(x, K_, N_, ctx.where()));
    float* y = ctx.allocate_output(0, DType::kF32, s.out).mutable_data<float>();
    const bool row_sums = packed_.zero_points() != nullptr;
    if (act_ == "tensor")
      rows_.quantize_per_tensor(x.data<float>(), s.M, K_, row_sums);
    else if (act_ == "row")
      rows_.quantize_per_row(x.data<float>(), s.M, K_, row_sums);
    else if (act_ == "row_symmetric")
      rows_.quantize_per_row_symmetric(x.data<float>(), s.M, K_, min_scale_, row_sums);
    else
      rows_.quantize_static(x.data<float>(), s.M, K_, x_scale_, x_zero_point_, x_signed_, row_sums);
    qgemm::QGemmOutput out;
    out.f32 = y;
    out.ldc = N_;
    out.b_scales = w_scales_.data();
    out.bias = bias_.empty() ? nullptr : bias_.data();
    out.relu = relu_;
    out.activation = activation_;
    qgemm::gemm_u8s8(rows_.view(), packed_, out);
    return Status::Ok();
  }

 private:
  int64_t K_ = 0, N_ = 0;
  qgemm::PackedB packed_;
  std::vector<float> w_scales_, bias_;
  std::string act_;
  bool relu_ = false, x_signed_ = false;
  void (*activation_)(const float*, float*, int64_t) = nullptr;
  float x_scale_ = 1.0f, min_scale_ = 0.0f;
  int32_t x_zero_point_ = 0;
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
  registry.add(kMatMulIntegerPacked, kDomain, 1, [] { return std::make_unique<MatMulIntegerPackedKernel>(); });
}

}  // namespace ember::runtime::fused

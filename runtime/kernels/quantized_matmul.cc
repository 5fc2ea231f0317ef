// Integer matrix products (reference kernels), all numpy-matmul shaped (batched, broadcast):
//   MatMulInteger:          Y(i32) = (A - a_zp) x (B - b_zp)
//   QLinearMatMul:          Y = saturate(round((A - a_zp) x (B - b_zp) * a_scale * b_scale / y_scale) + y_zp)
//   DynamicQuantizeMatMul:  (com.microsoft) A is quantized to uint8 as by DynamicQuantizeLinear, then
//                           Y(f32) = (Aq - a_zp) x (B - b_zp) * a_scale * b_scale + bias
// A-side parameters are per tensor or per row, B-side ones per tensor or per column. A
// constant B (the weights) is widened and transposed once in prepare.
#include <memory>

#include "runtime/kernel.h"
#include "runtime/kernels/integer_matmul.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/quant_params.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/kernels/quantized_families.h"

namespace ember::runtime {
namespace {

bool is_int8_dtype(DType d) { return d == DType::kU8 || d == DType::kI8; }

Status check_int8_operand(const Tensor& t, const Tensor* zero_point, const std::string& where, const std::string& name) {
  if (!is_int8_dtype(t.dtype()))
    return invalid_input(where + ": " + name + " must be u8 or i8, got " + std::string(dtype_name(t.dtype())));
  if (zero_point && zero_point->dtype() != t.dtype())
    return invalid_input(where + ": zero point of " + name + " must have its type " + std::string(dtype_name(t.dtype())) +
                         ", got " + std::string(dtype_name(zero_point->dtype())));
  return Status::Ok();
}

// Per-row (A) or per-column (B) integer zero points; zeros when omitted.
Result<std::vector<int32_t>> matrix_zero_points(const Tensor* zp, const MatMulShapes& s, bool for_a,
                                                const std::string& where) {
  if (!zp) return std::vector<int32_t>(static_cast<size_t>(for_a ? s.a_matrices * s.M : s.b_matrices * s.N), 0);
  EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> values, read_int_params(*zp, where, "zero point"));
  return expand_matrix_param(values, zp->shape(), s, for_a, where, for_a ? "A zero point" : "B zero point");
}

Result<std::vector<float>> matrix_scales(const Tensor& scale, const MatMulShapes& s, bool for_a, const std::string& where) {
  EMBER_ASSIGN_OR_RETURN(std::vector<float> values, read_float_params(scale, where, "scale"));
  return expand_matrix_param(values, scale.shape(), s, for_a, where, for_a ? "A scale" : "B scale");
}

// The B operand of a kernel: packed in prepare when B and its zero point are constants,
// otherwise packed on each run.
class IntBOperand {
 public:
  IntBOperand(size_t b_index, size_t zp_index) : b_index_(b_index), zp_index_(zp_index) {}

  Status prepare(const PrepareContext& ctx) {
    const Tensor* b = ctx.constant(b_index_);
    const bool zp_given = ctx.node.has_input(zp_index_);
    const Tensor* zp = zp_given ? ctx.constant(zp_index_) : nullptr;
    if (!b || (zp_given && !zp)) return Status::Ok();
    const std::string where = "node '" + ctx.node.name + "' (" + ctx.node.op_type + ")";
    EMBER_ASSIGN_OR_RETURN(packed_, pack(*b, zp, where));
    prepared_ = true;
    return Status::Ok();
  }

  Result<const PackedIntB*> get(const RunContext& ctx, PackedIntB& scratch) const {
    if (prepared_) return &packed_;
    EMBER_ASSIGN_OR_RETURN(scratch, pack(ctx.input(b_index_), ctx.has_input(zp_index_) ? &ctx.input(zp_index_) : nullptr,
                                         ctx.where()));
    return &scratch;
  }

 private:
  static Result<PackedIntB> pack(const Tensor& b, const Tensor* zp, const std::string& where) {
    EMBER_TRY(check_int8_operand(b, zp, where, "B"));
    if (b.rank() == 0) return invalid_input(where + ": B must have rank >= 1");
    // A placeholder vector A of length K gives B's own batch layout.
    const int64_t K = b.rank() == 1 ? b.dim(0) : b.dim(b.rank() - 2);
    EMBER_ASSIGN_OR_RETURN(MatMulShapes s, matmul_shapes({K}, b.shape(), where));
    EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> zero_points, matrix_zero_points(zp, s, false, where));
    return pack_int_b(b, zero_points, s.b_matrices, s.K, s.N);
  }

  size_t b_index_, zp_index_;
  bool prepared_ = false;
  PackedIntB packed_;
};

class MatMulIntegerKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override { return b_.prepare(ctx); }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& a = ctx.input(0);
    const Tensor* a_zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    EMBER_TRY(check_int8_operand(a, a_zp, where, "A"));
    EMBER_ASSIGN_OR_RETURN(MatMulShapes s, matmul_shapes(a.shape(), ctx.input(1).shape(), where));
    EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> a_zero_points, matrix_zero_points(a_zp, s, true, where));
    PackedIntB scratch;
    EMBER_ASSIGN_OR_RETURN(const PackedIntB* b, b_.get(ctx, scratch));
    int32_t* y = ctx.allocate_output(0, DType::kI32, s.out_shape).mutable_data<int32_t>();
    const int64_t N = s.N;
    integer_matmul(a, a_zero_points, *b, s, [&](int64_t row, int64_t n0, int64_t n1, const int32_t* acc) {
      std::copy(acc, acc + (n1 - n0), y + row * N + n0);
    });
    return Status::Ok();
  }

 private:
  IntBOperand b_{1, 3};
};

class QLinearMatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override { return b_.prepare(ctx); }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& a = ctx.input(0);
    const Tensor* a_zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    EMBER_TRY(check_int8_operand(a, a_zp, where, "A"));
    EMBER_ASSIGN_OR_RETURN(MatMulShapes s, matmul_shapes(a.shape(), ctx.input(3).shape(), where));
    EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> a_zero_points, matrix_zero_points(a_zp, s, true, where));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> a_scale, matrix_scales(ctx.input(1), s, true, where));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> b_scale, matrix_scales(ctx.input(4), s, false, where));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> y_scale, read_float_params(ctx.input(6), where, "y_scale"));
    if (y_scale.size() != 1) return invalid_input(where + ": y_scale must be a scalar, got " + shape_to_string(ctx.input(6).shape()));
    DType out_dtype = a.dtype();
    int32_t y_zp = 0;
    if (ctx.has_input(7)) {
      const Tensor& zp = ctx.input(7);
      if (!is_int8_dtype(zp.dtype()) || zp.numel() != 1)
        return invalid_input(where + ": y_zero_point must be a u8 or i8 scalar");
      out_dtype = zp.dtype();
      EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> v, read_int_params(zp, where, "y_zero_point"));
      y_zp = v[0];
    }
    PackedIntB scratch;
    EMBER_ASSIGN_OR_RETURN(const PackedIntB* b, b_.get(ctx, scratch));
    Tensor& out = ctx.allocate_output(0, out_dtype, s.out_shape);
    const int32_t lo = out_dtype == DType::kU8 ? 0 : -128, hi = out_dtype == DType::kU8 ? 255 : 127;
    const int64_t M = s.M, N = s.N;
    integer_matmul(a, a_zero_points, *b, s, [&](int64_t row, int64_t n0, int64_t n1, const int32_t* acc) {
      const int64_t matrix = row / M;
      const float as = a_scale[size_t(s.a_index[size_t(matrix)] * M + row % M)];
      const float* bs = b_scale.data() + s.b_index[size_t(matrix)] * N;
      for (int64_t n = n0; n < n1; ++n) {
        // The multiplier is formed in float and applied in double, as the ONNX reference does.
        const float multiplier = as * bs[n] / y_scale[0];
        const int32_t q = quantize_double(double(acc[n - n0]) * double(multiplier), y_zp, lo, hi);
        if (out_dtype == DType::kU8)
          out.mutable_data<uint8_t>()[row * N + n] = static_cast<uint8_t>(q);
        else
          out.mutable_data<int8_t>()[row * N + n] = static_cast<int8_t>(q);
      }
    });
    return Status::Ok();
  }

 private:
  IntBOperand b_{3, 5};
};

class DynamicQuantizeMatMulKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override { return b_.prepare(ctx); }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& a = ctx.input(0);
    if (a.dtype() != DType::kF32) return unsupported_dtype(ctx, a.dtype());
    EMBER_ASSIGN_OR_RETURN(MatMulShapes s, matmul_shapes(a.shape(), ctx.input(1).shape(), where));
    EMBER_ASSIGN_OR_RETURN(std::vector<float> b_scale, matrix_scales(ctx.input(2), s, false, where));
    std::vector<float> bias;
    if (ctx.has_input(4)) {
      EMBER_ASSIGN_OR_RETURN(bias, read_float_params(ctx.input(4), where, "bias"));
      if (static_cast<int64_t>(bias.size()) != s.N)
        return invalid_input(where + ": bias must have " + std::to_string(s.N) + " elements, got " +
                             shape_to_string(ctx.input(4).shape()));
    }
    const DynamicQuantParams qp = dynamic_uint8_params(a.data<float>(), a.numel());
    Tensor a_q = Tensor::zeros(DType::kU8, a.shape());
    quantize_uint8(a.data<float>(), a.numel(), qp, a_q.mutable_data<uint8_t>());
    const std::vector<int32_t> a_zero_points(static_cast<size_t>(s.a_matrices * s.M), qp.zero_point);
    PackedIntB scratch;
    EMBER_ASSIGN_OR_RETURN(const PackedIntB* b, b_.get(ctx, scratch));
    float* y = ctx.allocate_output(0, DType::kF32, s.out_shape).mutable_data<float>();
    const int64_t M = s.M, N = s.N;
    integer_matmul(a_q, a_zero_points, *b, s, [&](int64_t row, int64_t n0, int64_t n1, const int32_t* acc) {
      const float* bs = b_scale.data() + s.b_index[size_t(row / M)] * N;
      for (int64_t n = n0; n < n1; ++n)
        y[row * N + n] = static_cast<float>(acc[n - n0]) * (qp.scale * bs[n]) + (bias.empty() ? 0.0f : bias[size_t(n)]);
    });
    return Status::Ok();
  }

 private:
  IntBOperand b_{1, 3};
};

}  // namespace

void register_quantized_matmul_kernels(KernelRegistry& registry) {
  registry.add("MatMulInteger", "", 10, [] { return std::make_unique<MatMulIntegerKernel>(); });
  registry.add("QLinearMatMul", "", 10, [] { return std::make_unique<QLinearMatMulKernel>(); });
  registry.add("DynamicQuantizeMatMul", "com.microsoft", 1, [] { return std::make_unique<DynamicQuantizeMatMulKernel>(); });
  register_qlinear_conv_kernels(registry);
  register_matmul_nbits_kernels(registry);
}

}  // namespace ember::runtime

// ember.fused GatherDequantize (fused_ops.h): Gather(DequantizeLinear(W), indices) on axis 0,
// as a quantized embedding table is read. Only the gathered rows are dequantized, on each run,
// so the table stays quantized in memory (4 or 8 bits instead of 32) and loading does not
// dequantize the whole table as constant folding would.
//   y[i, h] = (W[idx_i, h] - zero[idx_i, h]) * scale[idx_i, h], with scale and zero point per
//   tensor, per row or column (axis 0 / 1), or blocked along the axis (block_size).
#include <algorithm>
#include <memory>

#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/fused/fused_util.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/quant_params.h"
#include "runtime/kernels/quant_types.h"

namespace ember::runtime::fused {
namespace {

class GatherDequantizeKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    const std::string where = where_of(ctx.node);
    const Tensor* w = ctx.constant(0);
    const Tensor* scale = ctx.constant(1);
    if (!w || !scale || w->rank() != 2) return invalid_input(where + ": the table must be a constant 2-D tensor with a constant scale");
    w_ = *w;  // a view that keeps the table alive (the constant's slot may move)
    rows_ = w_.dim(0), cols_ = w_.dim(1);
    axis_ = ctx.node.attr_int("axis", 1);
    block_ = ctx.node.attr_int("block_size", 0);
    if (axis_ < 0) axis_ += 2;
    if (axis_ != 0 && axis_ != 1) return invalid_input(where + ": axis must be 0 or 1");
    const int64_t along = axis_ == 0 ? rows_ : cols_, other = axis_ == 0 ? cols_ : rows_;
    // Parameters indexed [row][col / block] (axis 1) or [row / block][col] (axis 0).
    if (scale->numel() == 1) {
      per_tensor_ = true;
    } else if (block_ <= 0) {
      if (scale->numel() != along) return invalid_input(where + ": the scale must have one value per index of the axis");
    } else {
      const int64_t blocks = (along + block_ - 1) / block_;
      if (scale->numel() != blocks * other) return invalid_input(where + ": the scale does not match the blocked table");
    }
    EMBER_ASSIGN_OR_RETURN(scales_, read_float_params(*scale, where, "scale"));
    if (ctx.node.has_input(2)) {
      const Tensor* zp = ctx.constant(2);
      if (!zp || zp->numel() != scale->numel()) return invalid_input(where + ": the zero point must be a constant shaped like the scale");
      EMBER_ASSIGN_OR_RETURN(zeros_, read_int_params(*zp, where, "zero point"));
    }
    if (!dispatch_quant_dtype(w_.dtype(), false, [](auto) {})) return invalid_input(where + ": the table must be an integer quantized type");
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const Tensor& idx = ctx.input(3);
    if (idx.dtype() != DType::kI64 && idx.dtype() != DType::kI32) return unsupported_dtype(ctx, idx.dtype());
    Shape out_shape = idx.shape();
    out_shape.push_back(cols_);
    float* y = ctx.allocate_output(0, DType::kF32, out_shape).mutable_data<float>();
    for (int64_t i = 0; i < idx.numel(); ++i) {
      int64_t r = idx.dtype() == DType::kI64 ? idx.data<int64_t>()[i] : idx.data<int32_t>()[i];
      if (r < -rows_ || r >= rows_)
        return invalid_input(ctx.where() + ": index " + std::to_string(r) + " is out of range for a table of " +
                             std::to_string(rows_) + " rows");
      if (r < 0) r += rows_;
      dispatch_quant_dtype(w_.dtype(), false, [&](auto tag) { dequantize_row<decltype(tag)>(r, y + i * cols_); });
    }
    return Status::Ok();
  }

 private:
  int64_t param_index(int64_t r, int64_t c) const {
    if (per_tensor_) return 0;
    if (block_ <= 0) return axis_ == 0 ? r : c;
    const int64_t blocks_per_row = (cols_ + block_ - 1) / block_;
    return axis_ == 1 ? r * blocks_per_row + c / block_ : (r / block_) * cols_ + c;
  }

  // Columns of a row that share one scale and zero point: all of them (per tensor, or per row),
  // a block (blocked along the row), or one (per column).
  int64_t columns_per_param() const {
    if (per_tensor_ || (block_ <= 0 && axis_ == 0)) return cols_;
    return block_ > 0 && axis_ == 1 ? block_ : 1;
  }

  // The parameters looked up once per run of columns that share them (an int4 embedding row
  // of 768 was 2.2 us with a lookup per value, ~1% of a 256-token prefill), the same floats.
  template <class Tag>
  void dequantize_row(int64_t r, float* out) const {
    const int64_t run = std::max<int64_t>(1, columns_per_param());
    for (int64_t c0 = 0; c0 < cols_; c0 += run) {
      const int64_t p = param_index(r, c0), c1 = std::min(cols_, c0 + run);
      const int32_t zero = zeros_.empty() ? 0 : zeros_[size_t(p)];
      const float scale = scales_[size_t(p)];
      for (int64_t c = c0; c < c1; ++c) out[c] = float(QuantStorage<Tag>::load(w_.raw(), r * cols_ + c) - zero) * scale;
    }
  }

  Tensor w_;
  int64_t rows_ = 0, cols_ = 0, axis_ = 1, block_ = 0;
  bool per_tensor_ = false;
  std::vector<float> scales_;
  std::vector<int32_t> zeros_;
};

}  // namespace

void register_gather_dequantize_kernel(KernelRegistry& registry) {
  registry.add(kGatherDequantize, kDomain, 1, [] { return std::make_unique<GatherDequantizeKernel>(); });
}

}  // namespace ember::runtime::fused

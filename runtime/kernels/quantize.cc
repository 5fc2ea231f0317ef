// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear (reference kernels).
//   QuantizeLinear:   y = saturate(round_half_even(x / scale) + zero_point)
//   DequantizeLinear: y = (x - zero_point) * scale
// Scale granularity is per tensor, per axis or blocked (quant_params.h). Quantized types:
// int8, uint8, int16, uint16, int4, uint4 (and int32 input to DequantizeLinear); scales may
// be f32, f16 or bf16. DynamicQuantizeLinear follows the ONNX formula for uint8, with the
// scale defined as 1 when the input is all zeros.
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/quant_params.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/parallel.h"

namespace ember::runtime {
namespace {

constexpr int64_t kMinChunk = 1 << 14;

// The data input as floats: a view for f32, a converted copy for f16/bf16/int32.
Result<const float*> float_input(const Tensor& x, std::vector<float>& storage, const std::string& where) {
  if (x.dtype() == DType::kF32) return x.data<float>();
  if (x.dtype() != DType::kF16 && x.dtype() != DType::kBF16 && x.dtype() != DType::kI32)
    return invalid_input(where + ": input must be f32, f16, bf16 or i32, got " + std::string(dtype_name(x.dtype())));
  EMBER_ASSIGN_OR_RETURN(storage, x.to_floats());
  return storage.data();
}

// Scale and zero point inputs (indices 1 and 2) resolved against the data input.
struct QuantParams {
  QuantLayout layout;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;  // one per scale; zeros when the input is omitted
};

Result<QuantParams> read_quant_params(const RunContext& ctx, int64_t axis, int64_t block_size) {
  const std::string where = ctx.where();
  if (!ctx.has_input(1)) return invalid_input(where + ": the scale input is required");
  const Tensor& scale = ctx.input(1);
  QuantParams p;
  EMBER_ASSIGN_OR_RETURN(p.layout, resolve_quant_layout(ctx.input(0).shape(), scale.shape(), axis, block_size, where));
  EMBER_ASSIGN_OR_RETURN(p.scales, read_float_params(scale, where, "scale"));
  if (ctx.has_input(2)) {
    const Tensor& zp = ctx.input(2);
    if (zp.numel() != scale.numel())
      return invalid_input(where + ": zero point shape " + shape_to_string(zp.shape()) + " does not match scale shape " +
                           shape_to_string(scale.shape()));
    EMBER_ASSIGN_OR_RETURN(p.zero_points, read_int_params(zp, where, "zero point"));
  } else {
    p.zero_points.assign(p.scales.size(), 0);
  }
  return p;
}

// Runs fn(begin, end) over [0, n) in parallel, with chunk borders on even indices so two
// threads never write the same byte of a packed 4-bit output.
void parallel_even(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  parallel_for((n + 1) / 2, kMinChunk / 2, [&](int64_t b, int64_t e) { fn(2 * b, std::min(2 * e, n)); });
}

class QuantizeLinearKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    axis_ = ctx.node.attr_int("axis", 1);
    block_size_ = ctx.node.attr_int("block_size", 0);
    output_dtype_ = ctx.node.attr_int("output_dtype", 0);
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& x = ctx.input(0);
    DType out_dtype = DType::kU8;
    if (ctx.has_input(2)) {
      out_dtype = ctx.input(2).dtype();
      if (output_dtype_ != 0 && output_dtype_ != static_cast<int64_t>(out_dtype))
        return invalid_input(where + ": output_dtype " + std::to_string(output_dtype_) +
                             " does not match the zero point type " + std::string(dtype_name(out_dtype)));
    } else if (output_dtype_ != 0) {
      const DTypeTraits* t = find_dtype_traits(static_cast<int32_t>(output_dtype_));
      if (!t) return unsupported(where + ": output_dtype " + std::to_string(output_dtype_) + " is not supported");
      out_dtype = t->dtype;
    }
    std::vector<float> x_storage;
    EMBER_ASSIGN_OR_RETURN(const float* xf, float_input(x, x_storage, where));
    EMBER_ASSIGN_OR_RETURN(QuantParams p, read_quant_params(ctx, axis_, block_size_));
    // f16 data with f16 scales divides in f16, as the spec lets the scale type set the precision.
    const bool half_division = x.dtype() == DType::kF16 && ctx.input(1).dtype() == DType::kF16;
    const int64_t n = x.numel();
    bool known = true;
    Tensor* out = nullptr;
    known = dispatch_quant_dtype(out_dtype, false, [&](auto tag) {
      using S = QuantStorage<decltype(tag)>;
      out = &ctx.allocate_output(0, S::kDType, x.shape());
      void* y = out->raw_mutable();
      parallel_even(n, [&](int64_t begin, int64_t end) {
        for_each_quant_element(p.layout, begin, end, [&](int64_t e, int64_t k) {
          float v = xf[e] / p.scales[size_t(k)];
          if (half_division) v = half_to_float(float_to_half(v));
          S::store(y, e, quantize_value(v, p.zero_points[size_t(k)], S::kMin, S::kMax));
        });
      });
      if (traits(S::kDType).bits == 4 && n % 2 == 1) S::store(y, n, 0);  // clear the unused nibble
    });
    if (!known) return unsupported_dtype(ctx, out_dtype);
    return Status::Ok();
  }

 private:
  int64_t axis_ = 1, block_size_ = 0, output_dtype_ = 0;
};

class DequantizeLinearKernel final : public Kernel {
 public:
  Status prepare(const PrepareContext& ctx) override {
    axis_ = ctx.node.attr_int("axis", 1);
    block_size_ = ctx.node.attr_int("block_size", 0);
    output_dtype_ = ctx.node.attr_int("output_dtype", 0);
    return Status::Ok();
  }

  Status run(RunContext& ctx) override {
    const std::string where = ctx.where();
    const Tensor& x = ctx.input(0);
    if (ctx.has_input(2) && ctx.input(2).dtype() != x.dtype())
      return invalid_input(where + ": zero point type " + std::string(dtype_name(ctx.input(2).dtype())) +
                           " differs from input type " + std::string(dtype_name(x.dtype())));
    EMBER_ASSIGN_OR_RETURN(QuantParams p, read_quant_params(ctx, axis_, block_size_));
    DType out_dtype = ctx.input(1).dtype();
    if (output_dtype_ != 0) {
      const DTypeTraits* t = find_dtype_traits(static_cast<int32_t>(output_dtype_));
      if (!t || !is_scale_dtype(t->dtype))
        return invalid_input(where + ": output_dtype " + std::to_string(output_dtype_) + " must be f32, f16 or bf16");
      out_dtype = t->dtype;
    }
    const int64_t n = x.numel();
    Tensor& out = ctx.allocate_output(0, out_dtype, x.shape());
    void* y = out.raw_mutable();
    if (p.layout.granularity == QuantGranularity::kPerTensor && out_dtype == DType::kF32 &&
        (x.dtype() == DType::kU8 || x.dtype() == DType::kI8)) {
      // The common case (dequantized activations and gathered embeddings): one loop that vectorizes.
      const float scale = p.scales[0];
      const int32_t zp = static_cast<int32_t>(p.zero_points[0]);
      float* out_f = static_cast<float*>(y);
      auto dequantize = [&](const auto* q) {
        parallel_for(n, kMinChunk, [&](int64_t begin, int64_t end) {
#pragma omp simd
          for (int64_t e = begin; e < end; ++e) out_f[e] = static_cast<float>(int32_t{q[e]} - zp) * scale;
        });
      };
      if (x.dtype() == DType::kI8)
        dequantize(x.data<int8_t>());
      else
        dequantize(x.data<uint8_t>());
      return Status::Ok();
    }
    const bool known = dispatch_quant_dtype(x.dtype(), true, [&](auto tag) {
      using S = QuantStorage<decltype(tag)>;
      parallel_for(n, kMinChunk, [&](int64_t begin, int64_t end) {
        for_each_quant_element(p.layout, begin, end, [&](int64_t e, int64_t k) {
          const int64_t q = int64_t{S::load(x.raw(), e)} - p.zero_points[size_t(k)];
          store_float_as(out_dtype, y, e, static_cast<float>(q) * p.scales[size_t(k)]);
        });
      });
    });
    if (!known) return unsupported_dtype(ctx, x.dtype());
    return Status::Ok();
  }

 private:
  int64_t axis_ = 1, block_size_ = 0, output_dtype_ = 0;
};

Status dynamic_quantize_linear(RunContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kF32) return unsupported_dtype(ctx, x.dtype());
  const int64_t n = x.numel();
  const DynamicQuantParams p = dynamic_uint8_params(x.data<float>(), n);
  quantize_uint8(x.data<float>(), n, p, ctx.allocate_output(0, DType::kU8, x.shape()).mutable_data<uint8_t>());
  if (ctx.outputs.size() > 1) ctx.allocate_output(1, DType::kF32, {}).mutable_data<float>()[0] = p.scale;
  if (ctx.outputs.size() > 2) ctx.allocate_output(2, DType::kU8, {}).mutable_data<uint8_t>()[0] = uint8_t(p.zero_point);
  return Status::Ok();
}

}  // namespace

void register_quantize_kernels(KernelRegistry& registry) {
  registry.add("QuantizeLinear", "", 10, [] { return std::make_unique<QuantizeLinearKernel>(); });
  registry.add("DequantizeLinear", "", 10, [] { return std::make_unique<DequantizeLinearKernel>(); });
  registry.add_function("DynamicQuantizeLinear", "", 11, dynamic_quantize_linear);
}

}  // namespace ember::runtime

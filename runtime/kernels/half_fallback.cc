#include "runtime/kernels/half_fallback.h"

#include <algorithm>

namespace ember::runtime {
namespace {

class FreshAllocator final : public TensorAllocator {
 public:
  Tensor allocate(DType dtype, Shape shape) override { return Tensor::zeros(dtype, std::move(shape)); }
};

}  // namespace

Tensor widen_to_f32(const Tensor& t) {
  Tensor out = Tensor::zeros(DType::kF32, t.shape());
  const auto convert = t.dtype() == DType::kF16 ? half_to_float : bfloat16_to_float;
  const uint16_t* in = t.data<uint16_t>();
  float* o = out.mutable_data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) o[i] = convert(in[i]);
  return out;
}

void narrow_from_f32(const Tensor& f32, Tensor& out) {
  const auto convert = out.dtype() == DType::kF16 ? float_to_half : float_to_bfloat16;
  const float* in = f32.data<float>();
  uint16_t* o = out.mutable_data<uint16_t>();
  for (int64_t i = 0; i < f32.numel(); ++i) o[i] = convert(in[i]);
}

bool has_half_input(const RunContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && is_half_dtype(ctx.input(i).dtype())) return true;
  return false;
}

Status run_widened_to_f32(RunContext& ctx, RunFunction f32_kernel, const std::vector<size_t>& keep_f32) {
  std::vector<Tensor> widened(ctx.num_inputs());
  std::vector<const Tensor*> inputs(ctx.num_inputs(), nullptr);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    if (is_half_dtype(ctx.input(i).dtype())) {
      widened[i] = widen_to_f32(ctx.input(i));
      inputs[i] = &widened[i];
    } else {
      inputs[i] = ctx.inputs[i];
    }
  }
  FreshAllocator allocator;
  std::vector<Tensor> outputs(ctx.outputs.size());
  RunContext inner{ctx.node, inputs, outputs, allocator};
  EMBER_TRY(f32_kernel(inner));

  const bool narrow_outputs = ctx.has_input(0) && is_half_dtype(ctx.input(0).dtype());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const bool keep = std::find(keep_f32.begin(), keep_f32.end(), i) != keep_f32.end();
    if (narrow_outputs && !keep && outputs[i].defined() && outputs[i].dtype() == DType::kF32) {
      narrow_from_f32(outputs[i], ctx.allocate_output(i, ctx.input(0).dtype(), outputs[i].shape()));
    } else {
      ctx.outputs[i] = std::move(outputs[i]);
    }
  }
  return Status::Ok();
}

}  // namespace ember::runtime

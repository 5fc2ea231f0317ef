// f16/bf16 support for the computing kernels without a second implementation: the inputs
// are widened to f32, the f32 kernel runs, and its f32 outputs are narrowed back to input
// 0's type. Accuracy matches computing in f32 and rounding once, as ONNX expects.
#pragma once
#include <cstddef>
#include <vector>

#include "ir/dtype.h"
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

inline bool is_half_dtype(DType d) { return d == DType::kF16 || d == DType::kBF16; }

// Runs `f32_kernel` with widened inputs. Outputs listed in keep_f32 stay f32 (LayerNorm's
// statistics); outputs of other types (bool, int64) pass through unchanged.
Status run_widened_to_f32(RunContext& ctx, RunFunction f32_kernel, const std::vector<size_t>& keep_f32 = {});

bool has_half_input(const RunContext& ctx);

// A new f32 tensor with the values of an f16/bf16 tensor.
Tensor widen_to_f32(const Tensor& half);
// Writes f32 values into an allocated f16/bf16 tensor of the same shape.
void narrow_from_f32(const Tensor& f32, Tensor& half);

// Registration adaptor: kernel `fn` also accepts f16/bf16 inputs.
template <RunFunction fn>
Status with_half_support(RunContext& ctx) {
  return has_half_input(ctx) ? run_widened_to_f32(ctx, fn) : fn(ctx);
}

}  // namespace ember::runtime

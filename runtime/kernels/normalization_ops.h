// Kernels of the normalization family outside normalization.cc.
#pragma once
#include <memory>

#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// normalization_batch.cc. Opset 6-13: inference only (spatial attribute honoured); opset
// 14 on: training_mode=1 normalises with the batch statistics and outputs running stats.
std::unique_ptr<Kernel> make_batch_norm_legacy_kernel();
std::unique_ptr<Kernel> make_batch_norm_kernel();
// One row of LayerNormalization, out = (row - mean) * inv_std * scale (+ bias); out may be row.
void layer_norm_row_f32(const float* row, int64_t n, double epsilon, const float* scale, const float* bias, float* out);
// Input `index` broadcast to `target` (LayerNormalization's scale and bias).
Result<Tensor> expand_input_to(const RunContext& ctx, size_t index, const Shape& target);

}  // namespace ember::runtime

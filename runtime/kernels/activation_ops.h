// Kernels of the activation family, registered by activation.cc.
#pragma once
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// activation_softmax.cc. "Coerced" versions (opset < 13) flatten the input to 2-D at
// `axis` (default 1) and normalise each row; later versions normalise along one axis
// (default -1).
Status run_softmax_coerced(RunContext& ctx);
Status run_softmax(RunContext& ctx);
// y = Softmax(x) of one contiguous float row (y may be x): the kernels' own row routine, for
// the fused attention (runtime/fused/attention.cc).
void softmax_row(const float* x, float* y, int64_t n);  // y may be x
Status run_gelu_any(RunContext& ctx);                   // Gelu, f32 and f16/bf16 (also ember.fused Gelu)
Status run_log_softmax_coerced(RunContext& ctx);
Status run_log_softmax(RunContext& ctx);
Status run_hardmax_coerced(RunContext& ctx);
Status run_hardmax(RunContext& ctx);

// activation_clip.cc
Status run_clip_with_attributes(RunContext& ctx);  // opset 6: min/max attributes
Status run_clip(RunContext& ctx);                  // opset 11: min/max optional inputs
Status run_prelu(RunContext& ctx);
Status run_prelu_per_channel(RunContext& ctx);     // before opset 7

}  // namespace ember::runtime

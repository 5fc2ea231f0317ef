// The "fused" kernel family of kernels.def: the ember.fused ops of fused_ops.h.
#include "runtime/fused/fused_kernels.h"
#include "runtime/fused/fused_ops.h"
#include "runtime/kernels/activation_ops.h"
#include "runtime/kernels/matmul_ops.h"

namespace ember::runtime {

void register_fused_kernels(KernelRegistry& registry) {
  fused::register_int8_fused_kernels(registry);
  fused::register_int4_fused_kernels(registry);
  fused::register_permuted_matmul_kernel(registry);
  fused::register_attention_kernel(registry);
  fused::register_add_softmax_kernel(registry);
  fused::register_add_layer_norm_kernel(registry);
  // Gelu and MatMulBias compute with the plain ops' kernels (the ONNX 20 Gelu; MatMul with its
  // bias added in the GEMM's epilogue), so their arithmetic is shared with those ops.
  registry.add_function(fused::kGelu, fused::kDomain, 1, run_gelu_any);
  registry.add(fused::kMatMulBias, fused::kDomain, 1, make_matmul_kernel);
  fused::register_gather_dequantize_kernel(registry);
  fused::register_conv_channels_last_kernel(registry);
  fused::register_maxpool_channels_last_kernel(registry);
}

}  // namespace ember::runtime

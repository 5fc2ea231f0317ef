// The "fused" kernel family of kernels.def: the ember.fused ops of fused_ops.h.
#include "runtime/fused/fused_kernels.h"

namespace ember::runtime {

void register_fused_kernels(KernelRegistry& registry) {
  fused::register_int8_fused_kernels(registry);
  fused::register_int4_fused_kernels(registry);
  fused::register_permuted_matmul_kernel(registry);
  fused::register_attention_kernel(registry);
  fused::register_gather_dequantize_kernel(registry);
}

}  // namespace ember::runtime

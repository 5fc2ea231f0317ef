// The fused kernel family (kernels.def) is split over several files; its register function
// calls these.
#pragma once
#include "runtime/kernel.h"

namespace ember::runtime::fused {

void register_int8_fused_kernels(KernelRegistry& registry);  // Int8MatMul, MatMulIntegerPacked
void register_int4_fused_kernels(KernelRegistry& registry);  // Int4MatMul, Int4MatMulGroup
void register_permuted_matmul_kernel(KernelRegistry& registry);  // PermutedMatMul
void register_attention_kernel(KernelRegistry& registry);        // Attention
void register_add_softmax_kernel(KernelRegistry& registry);      // AddSoftmax
void register_add_layer_norm_kernel(KernelRegistry& registry);   // AddLayerNorm
void register_gather_dequantize_kernel(KernelRegistry& registry);  // GatherDequantize
void register_conv_channels_last_kernel(KernelRegistry& registry);     // ConvChannelsLast
void register_maxpool_channels_last_kernel(KernelRegistry& registry);  // MaxPoolChannelsLast

}  // namespace ember::runtime::fused

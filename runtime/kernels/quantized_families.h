// The quantized_matmul kernel family (kernels.def) is split over several files; its
// register function calls these.
#pragma once
#include "runtime/kernel.h"

namespace ember::runtime {

void register_qlinear_conv_kernels(KernelRegistry& registry);   // ConvInteger, QLinearConv
void register_matmul_nbits_kernels(KernelRegistry& registry);   // com.microsoft MatMulNBits

}  // namespace ember::runtime

#include "runtime/kernel.h"

namespace ember::runtime {

void register_quantized_matmul_kernels(KernelRegistry& registry) { (void)registry; }

}  // namespace ember::runtime

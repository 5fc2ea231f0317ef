#include "runtime/kernel.h"

namespace ember::runtime {

void register_shape_kernels(KernelRegistry& registry) { (void)registry; }

}  // namespace ember::runtime

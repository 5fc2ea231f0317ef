#include "runtime/kernel.h"

namespace ember::runtime {

void register_reduce_kernels(KernelRegistry& registry) { (void)registry; }

}  // namespace ember::runtime

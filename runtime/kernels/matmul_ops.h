// The MatMul kernel, shared with ember.fused MatMulBias (registered by runtime/fused).
#pragma once
#include <memory>

#include "runtime/kernel.h"

namespace ember::runtime {

std::unique_ptr<Kernel> make_matmul_kernel();  // MatMul, and MatMulBias when the node is one

}  // namespace ember::runtime

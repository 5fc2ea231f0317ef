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

}  // namespace ember::runtime

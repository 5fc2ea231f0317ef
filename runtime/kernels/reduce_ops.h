// Kernels of the reduce family that live outside reduce.cc, and the accumulator type the
// family shares.
#pragma once
#include <cstdint>
#include <type_traits>

#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// Sums run in double for floats (accuracy over long reductions) and in 64 bits for integers.
template <class T>
using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double,
                                       std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

// reduce_arg.cc
Status run_arg_max(RunContext& ctx);
Status run_arg_min(RunContext& ctx);

// reduce_cumsum.cc
Status run_cum_sum(RunContext& ctx);

}  // namespace ember::runtime

// Kernels of the elementwise family, registered by elementwise.cc. One function per op;
// files group them by kind (arithmetic, comparison/logic, unary math, cast).
#pragma once
#include "ir/status.h"
#include "runtime/kernel.h"

namespace ember::runtime {

// Checks a two-input op's inputs (present, same type) and allocates output 0 with their
// broadcast shape and `out_dtype` (kUndefined: the inputs' type).
Result<Tensor*> begin_binary(RunContext& ctx, DType out_dtype = DType::kUndefined);

// elementwise_legacy.cc: the opset 1-6 form of binary ops (broadcast and axis attributes).
Status run_with_legacy_broadcast(RunContext& ctx, RunFunction kernel);
template <RunFunction kernel>
Status with_legacy_broadcast(RunContext& ctx) {
  return run_with_legacy_broadcast(ctx, kernel);
}

// elementwise_arith.cc
Status run_add(RunContext& ctx);
Status run_sub(RunContext& ctx);
Status run_mul(RunContext& ctx);
Status run_div(RunContext& ctx);
Status run_pow(RunContext& ctx);
Status run_mod(RunContext& ctx);
Status run_max(RunContext& ctx);
Status run_min(RunContext& ctx);
Status run_sum(RunContext& ctx);
Status run_mean(RunContext& ctx);

// elementwise_logic.cc
Status run_equal(RunContext& ctx);
Status run_less(RunContext& ctx);
Status run_less_or_equal(RunContext& ctx);
Status run_greater(RunContext& ctx);
Status run_greater_or_equal(RunContext& ctx);
Status run_and(RunContext& ctx);
Status run_or(RunContext& ctx);
Status run_xor(RunContext& ctx);
Status run_not(RunContext& ctx);
Status run_bit_shift(RunContext& ctx);
Status run_where(RunContext& ctx);

// elementwise_unary.cc
Status run_abs(RunContext& ctx);
Status run_neg(RunContext& ctx);
Status run_sign(RunContext& ctx);
Status run_sqrt(RunContext& ctx);
Status run_reciprocal(RunContext& ctx);
Status run_exp(RunContext& ctx);
Status run_log(RunContext& ctx);
Status run_sin(RunContext& ctx);
Status run_cos(RunContext& ctx);
Status run_tan(RunContext& ctx);
Status run_asin(RunContext& ctx);
Status run_acos(RunContext& ctx);
Status run_atan(RunContext& ctx);
Status run_sinh(RunContext& ctx);
Status run_cosh(RunContext& ctx);
Status run_asinh(RunContext& ctx);
Status run_acosh(RunContext& ctx);
Status run_atanh(RunContext& ctx);
Status run_erf(RunContext& ctx);
Status run_floor(RunContext& ctx);
Status run_ceil(RunContext& ctx);
Status run_round(RunContext& ctx);
Status run_is_nan(RunContext& ctx);
Status run_is_inf(RunContext& ctx);

// elementwise_cast.cc
Status run_cast(RunContext& ctx);
Status run_cast_like(RunContext& ctx);

}  // namespace ember::runtime
